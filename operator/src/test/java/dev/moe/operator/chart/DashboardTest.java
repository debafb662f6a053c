package dev.moe.operator.chart;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.moe.operator.cluster.ControlPlane;
import dev.moe.operator.testing.Models;
import dev.moe.operator.testing.OperatorTestBase;
import dev.moe.operator.testing.RecordedStatistics;
import dev.moe.operator.testing.Scenario;
import dev.moe.runtime.stats.WorkerMetrics;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * The chart's Grafana dashboard queries only metrics the operator and the workers really export,
 * with the labels Prometheus gives them: the chart's PodMonitor and ServiceMonitor in a cluster,
 * local-cluster/config/prometheus.yml in the local one. Each query selects
 * {@code namespace=~"$namespace", model=~"$model"}, so a caller can substitute {@code .*}.
 */
class DashboardTest extends OperatorTestBase {

  private static final Path DASHBOARD = Chart.DIR.resolve("dashboards").resolve("moe-operator.json");
  private static final Path PROMETHEUS = ControlPlane.repoRoot().resolve("local-cluster/config/prometheus.yml");
  private static final String SELECTOR = "namespace=~\"$namespace\", model=~\"$model\"";
  /** Labels the workers' series get from their scrape target (PodMonitor or prometheus.yml), not from the worker. */
  private static final Set<String> WORKER_TARGET_LABELS = Set.of("namespace", "pod", "model");

  private static final Pattern STRING = Pattern.compile("\"(?:[^\"\\\\]|\\\\.)*\"");
  private static final Pattern GROUPING =
      Pattern.compile("\\b(?:by|without|on|ignoring|group_left|group_right)\\s*\\(([^)]*)\\)");
  private static final Pattern IDENTIFIER = Pattern.compile("(?<![\\w$])[a-zA-Z_:][a-zA-Z0-9_:]*+(?!\\s*\\()");
  private static final Pattern SELECTED = Pattern.compile("([a-zA-Z_:][a-zA-Z0-9_:]*)\\{([^}]*)}");
  private static final Pattern LEGEND_LABEL = Pattern.compile("\\{\\{\\s*(\\w+)\\s*}}");
  private static final Set<String> KEYWORDS = Set.of("and", "or", "unless", "offset", "bool");

  @Test
  void everyPanelQueriesMetricsTheOperatorAndTheWorkersExport() throws IOException {
    Scenario s = new Scenario(client, "dashboard");
    operator.statistics.serve(RecordedStatistics.resource("decode_in1000out1000.json"));
    s.apply(Models.deepseek(s.ns, "dsv3", 8, 48, """
        placement: {timeLimit: 2s}
        rebalancing: {mode: Auto, statisticsWindow: 1s, minInterval: 1s}
        """));
    s.readyWorkers("dsv3", 8);
    s.await("dsv3", Duration.ofSeconds(60), m -> m.getStatus() != null && m.getStatus().getCurrentPlacement() != null
        && m.getStatus().getCurrentPlacement().getObservedBalancedness() != null);
    String operatorScrape = operator.scrape();
    Set<String> operatorNames = names(operatorScrape);
    Set<String> workerNames = names(new String(new WorkerMetrics(0, 8, 1.0).scrape(), StandardCharsets.UTF_8));

    JsonNode dashboard = new ObjectMapper().readTree(DASHBOARD.toFile());
    List<String> exprs = new ArrayList<>();
    for (JsonNode panel : dashboard.get("panels")) {
      String title = panel.get("title").asText();
      assertTrue(panel.has("targets") && !panel.get("targets").isEmpty(), title + " has no query");
      for (JsonNode target : panel.get("targets")) {
        String expr = target.path("expr").asText();
        assertFalse(expr.isBlank(), title + " has an empty query");
        Set<String> used = metricNames(expr);
        assertFalse(used.isEmpty(), title + ": no metric in " + expr);
        Map<String, List<String>> selectors = selectors(expr);
        for (String metric : used) {
          boolean fromWorker = workerNames.contains(metric);
          assertTrue(fromWorker || operatorNames.contains(metric), title + ": " + metric
              + " is exported by neither the operator nor the workers");
          assertTrue(selectors.containsKey(metric) && selectors.get(metric).stream().allMatch(SELECTOR::equals),
              title + ": " + metric + " must be selected by {" + SELECTOR + "}: " + expr);
          // The labels the panel groups and names series by exist on the series.
          for (String label : labels(expr, target.path("legendFormat").asText())) {
            assertTrue(fromWorker ? WORKER_TARGET_LABELS.contains(label)
                : operatorScrape.lines().anyMatch(l -> l.startsWith(metric + "{") && l.contains(label + "=\"")),
                title + ": no label " + label + " on " + metric);
          }
        }
        exprs.add(expr);
      }
    }
    assertTrue(exprs.size() >= 6, "panels: balancedness, load, rebalances, moved, solve time, readiness");
    // The variables list the models and namespaces from a series every reconciled model has.
    for (JsonNode variable : dashboard.get("templating").get("list")) {
      if ("query".equals(variable.get("type").asText())) {
        assertTrue(operatorNames.containsAll(metricNames(variable.get("definition").asText()
            .replaceAll("^label_values\\((.*),\\s*\\w+\\)$", "$1"))), variable.toString());
      }
    }
  }

  @Test
  void theLocalPrometheusLabelsTheTargetsLikeTheChartsMonitors() throws IOException {
    Chart chart = Chart.render("metrics: {serviceMonitor: {enabled: true}, podMonitor: {enabled: true}}");
    JsonNode prometheus = new ObjectMapper(new YAMLFactory()).readTree(PROMETHEUS.toFile());
    assertEquals("5s", prometheus.get("global").get("scrape_interval").asText());

    Map<String, Object> podEndpoint = first(chart.find("PodMonitor").orElseThrow(), "podMetricsEndpoints");
    JsonNode workers = job(prometheus, "moe-workers");
    assertEquals(podEndpoint.get("path"), workers.get("metrics_path").asText());
    assertTrue(keeps(workers, "__meta_kubernetes_pod_container_port_name", (String) podEndpoint.get("port")));
    assertTrue(keeps(workers, "__meta_kubernetes_pod_label_app_kubernetes_io_name", "moe-worker"));
    @SuppressWarnings("unchecked")
    List<Map<String, Object>> relabelings = (List<Map<String, Object>>) podEndpoint.get("relabelings");
    for (Map<String, Object> r : relabelings) {
      assertTrue(relabels(workers, ((List<?>) r.get("sourceLabels")).getFirst().toString(),
          (String) r.get("targetLabel")), "prometheus.yml lacks the PodMonitor's relabeling " + r);
    }
    // What a PodMonitor target carries anyway, prometheus.yml sets itself.
    assertTrue(relabels(workers, "__meta_kubernetes_namespace", "namespace"));
    assertTrue(relabels(workers, "__meta_kubernetes_pod_name", "pod"));

    Map<String, Object> operatorEndpoint = first(chart.find("ServiceMonitor").orElseThrow(), "endpoints");
    JsonNode operatorJob = job(prometheus, "moe-operator");
    assertEquals(operatorEndpoint.get("path"), operatorJob.get("metrics_path").asText());
    assertEquals(operatorEndpoint.get("honorLabels"), operatorJob.get("honor_labels").asBoolean());
    assertTrue(keeps(operatorJob, "__meta_kubernetes_pod_container_port_name", (String) operatorEndpoint.get("port")));
    assertTrue(keeps(operatorJob, "__meta_kubernetes_pod_label_app_kubernetes_io_name", "moe-operator"));
  }

  /** Metric names in a Prometheus text exposition. */
  private static Set<String> names(String scrape) {
    return scrape.lines().filter(l -> !l.isBlank() && !l.startsWith("#")).map(l -> l.split("[{ ]", 2)[0])
        .collect(Collectors.toCollection(TreeSet::new));
  }

  /** The metric names a PromQL expression selects: identifiers that are no function, keyword or label. */
  static Set<String> metricNames(String expr) {
    String bare = GROUPING.matcher(STRING.matcher(expr).replaceAll("\"\"")).replaceAll(" ")
        .replaceAll("\\{[^}]*}", " ").replaceAll("\\[[^]]*]", " ");
    Set<String> names = new TreeSet<>();
    Matcher m = IDENTIFIER.matcher(bare);
    while (m.find()) {
      if (!KEYWORDS.contains(m.group())) {
        names.add(m.group());
      }
    }
    return names;
  }

  private static Map<String, List<String>> selectors(String expr) {
    return SELECTED.matcher(expr).results().collect(Collectors.groupingBy(r -> r.group(1),
        Collectors.mapping(r -> r.group(2).strip(), Collectors.toList())));
  }

  /** Labels a query groups by, and those its legend names series by. */
  private static Set<String> labels(String expr, String legend) {
    Set<String> labels = new TreeSet<>();
    GROUPING.matcher(expr).results().forEach(r -> {
      for (String l : r.group(1).split(",")) {
        labels.add(l.strip());
      }
    });
    LEGEND_LABEL.matcher(legend).results().forEach(r -> labels.add(r.group(1)));
    return labels;
  }

  private static JsonNode job(JsonNode prometheus, String name) {
    for (JsonNode job : prometheus.get("scrape_configs")) {
      if (name.equals(job.get("job_name").asText())) {
        return job;
      }
    }
    throw new AssertionError("prometheus.yml has no job " + name);
  }

  private static boolean keeps(JsonNode job, String sourceLabel, String value) {
    for (JsonNode r : job.get("relabel_configs")) {
      if ("keep".equals(r.path("action").asText()) && sourceLabel.equals(r.get("source_labels").get(0).asText())
          && value.equals(r.get("regex").asText())) {
        return true;
      }
    }
    return false;
  }

  private static boolean relabels(JsonNode job, String sourceLabel, String targetLabel) {
    for (JsonNode r : job.get("relabel_configs")) {
      if (targetLabel.equals(r.path("target_label").asText())
          && sourceLabel.equals(r.get("source_labels").get(0).asText())) {
        return true;
      }
    }
    return false;
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> first(GenericKubernetesResource monitor, String list) {
    return ((List<Map<String, Object>>) monitor.get("spec", list)).getFirst();
  }
}

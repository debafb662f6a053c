package dev.moe.operator.chart;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.moe.operator.cluster.ControlPlane;
import dev.moe.runtime.stats.WorkerMetrics;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The chart's HPA example scales on a metric the workers export, and the prometheus-adapter rule
 * that serves it is the same in docs/autoscaling.md and in the local cluster's adapter config.
 */
class HpaExampleTest {

  private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
  private static final Pattern NAMES = Pattern.compile("__name__=~\"([^\"]*)\"");
  private static final Pattern YAML_BLOCK = Pattern.compile("```yaml\n(.*?)\n *```", Pattern.DOTALL);

  @Test
  void theExamplesMetricIsAWorkerGaugeThatTheDocumentedAdapterRuleServes() throws IOException {
    String metric = YAML.readTree(Chart.DIR.resolve("examples/hpa.yaml").toFile())
        .at("/spec/metrics/0/pods/metric/name").asText();
    JsonNode local = YAML.readTree(ControlPlane.repoRoot().resolve("local-cluster/config/prometheus-adapter.yaml")
        .toFile());
    assertEquals(local, documentedRules(), "docs/autoscaling.md and local-cluster/config/prometheus-adapter.yaml");

    Matcher names = NAMES.matcher(local.at("/rules/0/seriesQuery").asText());
    assertTrue(names.find(), "the rule's series query names its metrics: " + local);
    List<String> served = Arrays.asList(names.group(1).split("\\|"));
    assertTrue(served.contains(metric), metric + " is not among the rule's metrics " + served);
    List<String> scrape = new String(new WorkerMetrics(0, 1, 1.0).scrape(), StandardCharsets.UTF_8).lines().toList();
    for (String name : served) {
      assertTrue(scrape.stream().anyMatch(l -> l.startsWith(name + " ")), "the workers export no gauge " + name);
    }
  }

  /** The YAML block of docs/autoscaling.md that holds the adapter's rules, as YAML. */
  private static JsonNode documentedRules() throws IOException {
    Matcher block = YAML_BLOCK.matcher(Files.readString(Chart.DIR.resolve("docs/autoscaling.md")));
    while (block.find()) {
      String text = block.group(1).stripIndent();
      if (text.startsWith("rules:")) {
        return YAML.readTree(text);
      }
    }
    throw new AssertionError("docs/autoscaling.md has no YAML block of rules");
  }
}

package dev.moe.localcluster.cli;

import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.moe.localcluster.demo.Demo;
import dev.moe.localcluster.system.DashboardCheck;
import dev.moe.localcluster.system.LocalSystem;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicBoolean;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code demo}: the whole system on the local cluster, with a traffic shift and the rebalance that answers it. */
@Command(name = "demo", mixinStandardHelpOptions = true,
    description = "Installs the chart, applies the example model, sends it OpenAI requests whose routing follows "
        + "DeepSeek-V3's decode then prefill workloads, and reports the operator's rebalance and the serving figures "
        + "(run by local-cluster/run.sh).")
final class DemoCommand implements Callable<Integer> {

  @Mixin ClusterOptions cluster;

  @Mixin StatisticsOption statistics;

  @Option(names = "--decode", defaultValue = "90s", converter = DurationConverter.class,
      description = "Decode-like requests before the shift, at least (default: ${DEFAULT-VALUE}); the shift also waits, "
          + "up to " + Demo.OBSERVATION_LIMIT_MINUTES + " minutes more, until the operator has observed them.")
  Duration decode;

  @Option(names = "--prefill-limit", defaultValue = "4m", converter = DurationConverter.class,
      description = "The longest prefill-like requests run (default: ${DEFAULT-VALUE}).")
  Duration prefillLimit;

  @Option(names = "--after-rebalance", defaultValue = "45s", converter = DurationConverter.class,
      description = "Prefill-like requests once the rebalanced placement serves (default: ${DEFAULT-VALUE}).")
  Duration afterRebalance;

  @Option(names = "--clients", defaultValue = "64",
      description = "Clients sending requests, each the next when its last ended (default: ${DEFAULT-VALUE}).")
  int clients;

  @Option(names = "--max-tokens", defaultValue = "32",
      description = "Tokens each request asks for at most (default: ${DEFAULT-VALUE}).")
  int maxTokens;

  @Option(names = "--out", paramLabel = "DIR", description = "Where the report goes (default: <state-dir>/demo).")
  Path out;

  @Option(names = "--prometheus", paramLabel = "URL",
      description = "A Prometheus scraping the cluster: every dashboard panel's query is run on it at the end.")
  URI prometheus;

  @Option(names = "--exit", description = "Exit after the report instead of keeping the cluster up until Ctrl-C.")
  boolean exit;

  @Override
  public Integer call() throws IOException, InterruptedException {
    if (clients < 1 || maxTokens < 1) {
      throw new IllegalArgumentException("--clients and --max-tokens must be positive");
    }
    Path repo = cluster.repo();
    Path stats = statistics.dir(repo);
    Path report = out != null ? out : cluster.stateDir().resolve("demo");
    AtomicBoolean stop = new AtomicBoolean();
    Runtime.getRuntime().addShutdownHook(new Thread(() -> stop.set(true)));
    try (LocalSystem system = LocalSystem.start(repo, cluster.kubeconfig(), cluster.stateDir(), System.out)) {
      Demo.Options options = new Demo.Options(repo, stats, cachedWeights(), report, decode, prefillLimit,
          afterRebalance, clients, maxTokens);
      boolean rebalanced = new Demo(system.client(), system.node()::resolveService, options, System.out).run(stop::get);
      boolean panels = true;
      if (prometheus != null) {
        List<DashboardCheck.PanelResult> results =
            DashboardCheck.run(repo.resolve("charts/moe-operator/dashboards/moe-operator.json"), prometheus);
        panels = DashboardCheck.print(results, System.out);
        JsonMapper.builder().build().writerWithDefaultPrettyPrinter()
            .writeValue(report.resolve("dashboard.json").toFile(), results);
      }
      System.out.println();
      System.out.println("export KUBECONFIG=" + cluster.kubeconfig());
      System.out.println("kubectl get moe -A; kubectl -n moe-demo get expertplacements; kubectl get nodes,pods -A");
      if (!exit) {
        System.out.println("The cluster stays up; Ctrl-C stops every process this run started.");
        while (!stop.get()) {
          Thread.sleep(500);
        }
      }
      return rebalanced && panels ? 0 : 1;
    }
  }

  /** Generated weights outlive a run: they depend on nothing but their shape. */
  private static Path cachedWeights() {
    String xdg = System.getenv("XDG_CACHE_HOME");
    Path base = xdg != null && !xdg.isEmpty() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".cache");
    return base.resolve("moe-operator").resolve("demo-weights");
  }
}

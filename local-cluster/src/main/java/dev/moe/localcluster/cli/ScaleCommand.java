package dev.moe.localcluster.cli;

import dev.moe.localcluster.scale.ScaleScenario;
import dev.moe.localcluster.system.LocalSystem;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicBoolean;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code scale}: DeepSeek-V3 on 144 simulated GPUs (kwok nodes), placed by the real scheduler and the operator. */
@Command(name = "scale", mixinStandardHelpOptions = true,
    description = "DeepSeek-V3 on kwok nodes (18 x 8 GPUs by default), statistics from the repository's SGLang files with a "
        + "decode -> prefill shift; prints time to PlacementReady, time to answer the shift, replicas moved and "
        + "balancedness (run by local-cluster/run.sh --scale, which starts kwok).")
final class ScaleCommand implements Callable<Integer> {

  @Mixin ClusterOptions cluster;

  @Mixin StatisticsOption statistics;

  @Option(names = "--nodes", defaultValue = "18", description = "kwok nodes (default: ${DEFAULT-VALUE}).")
  int nodes;

  @Option(names = "--gpus-per-node", defaultValue = "8", description = "GPUs per node (default: ${DEFAULT-VALUE}).")
  int gpusPerNode;

  @Option(names = "--shift-after", defaultValue = "10s", converter = DurationConverter.class,
      description = "Decode traffic after the first observed window, before the shift (default: ${DEFAULT-VALUE}).")
  Duration shiftAfter;

  @Option(names = "--timeout", defaultValue = "8m", converter = DurationConverter.class,
      description = "The longest any stage may take (default: ${DEFAULT-VALUE}).")
  Duration timeout;

  @Override
  public Integer call() {
    Path repo = cluster.repo();
    Path stats = statistics.dir(repo);
    if (nodes * gpusPerNode != 144) {
      throw new IllegalArgumentException("the scenario's model (local-cluster/scale/deepseek-v3.yaml) has 144 workers: "
          + "--nodes x --gpus-per-node must be 144, got " + nodes * gpusPerNode);
    }
    AtomicBoolean stop = new AtomicBoolean();
    Runtime.getRuntime().addShutdownHook(new Thread(() -> stop.set(true)));
    try (LocalSystem system = LocalSystem.start(repo, cluster.kubeconfig(), cluster.stateDir(), System.out)) {
      new ScaleScenario(system.client(), new ScaleScenario.Options(repo, stats, nodes, gpusPerNode, shiftAfter,
          timeout), System.out).run(stop::get);
      return 0;
    }
  }
}

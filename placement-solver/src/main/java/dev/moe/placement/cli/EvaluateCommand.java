package dev.moe.placement.cli;

import dev.moe.placement.ClusterSpec;
import dev.moe.placement.Placement;
import dev.moe.placement.PlacementEvaluator;
import dev.moe.placement.PlacementJson;
import dev.moe.stats.RoutingStats;
import dev.moe.stats.RoutingStatsReader;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

@Command(
    name = "evaluate",
    sortOptions = false,
    description = "Prints the report (JSON, the keys of a placement file's \"report\") of a placement on some traffic.")
final class EvaluateCommand implements Callable<Integer> {

  @Mixin PlacementCli.HelpOption help;

  @ParentCommand PlacementCli cli;

  @Option(names = "--stats", required = true, paramLabel = "FILE", description = "Routing statistics: the traffic.")
  Path stats;

  @Option(names = "--placement", required = true, paramLabel = "FILE", description = "The placement to evaluate.")
  Path placement;

  @Option(names = "--gpus-per-node", required = true, paramLabel = "N",
      description = "GPUs per node; the GPU count is the placement's slots / slots per GPU.")
  int gpusPerNode;

  @Option(names = "--slots-per-gpu", paramLabel = "N",
      description = "Slots per GPU, for a placement file without slots_per_gpu (one written for SGLang).")
  Integer slotsPerGpu;

  @Option(names = "--transitions", paramLabel = "FILE",
      description = "Inter-layer transitions, {\"pairs\": {\"0->7\": [E][E]}}, merged into the statistics.")
  Path transitions;

  @Option(names = "--current", paramLabel = "FILE", description = "The placement served before, for replicas_moved.")
  Path current;

  @Override
  public Integer call() {
    RoutingStats routing = RoutingStatsReader.readLayerCounts(stats, transitions);
    Placement evaluated = PlacementJson.read(placement, routing.experts(), slotsPerGpu == null ? 0 : slotsPerGpu);
    if (slotsPerGpu != null && evaluated.slotsPerGpu() != slotsPerGpu) {
      throw new IllegalArgumentException(placement + " has slots_per_gpu " + evaluated.slotsPerGpu()
          + ", but --slots-per-gpu is " + slotsPerGpu);
    }
    if (evaluated.layers() != routing.layers()) {
      throw new IllegalArgumentException(placement + " has " + evaluated.layers() + " layers, but " + stats + " has "
          + routing.layers());
    }
    if (gpusPerNode < 1 || evaluated.gpus() % gpusPerNode != 0) {
      throw new IllegalArgumentException(placement + " is for " + evaluated.gpus()
          + " GPUs, which --gpus-per-node " + gpusPerNode + " does not divide");
    }
    ClusterSpec cluster = new ClusterSpec(evaluated.gpus(), gpusPerNode, evaluated.slotsPerGpu());
    Placement before = null;
    if (current != null) {
      before = PlacementJson.read(current, routing.experts(), evaluated.slotsPerGpu());
      if (before.layers() != evaluated.layers() || before.slots() != evaluated.slots()
          || before.slotsPerGpu() != evaluated.slotsPerGpu()) {
        throw new IllegalArgumentException("--current " + current + " is " + before.layers() + " layers x "
            + before.gpus() + " GPUs x " + before.slotsPerGpu() + " slots, but " + placement + " is "
            + evaluated.layers() + " x " + evaluated.gpus() + " x " + evaluated.slotsPerGpu());
      }
    }
    cli.out.print(PlacementJson.reportJson(PlacementEvaluator.evaluate(routing, cluster, evaluated, before, 0.0)));
    return 0;
  }
}

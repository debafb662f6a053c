package dev.moe.placement.cli;

import dev.moe.placement.ClusterSpec;
import dev.moe.placement.Placement;
import dev.moe.placement.PlacementJson;
import dev.moe.placement.PlacementReport;
import dev.moe.placement.solve.PlacementSolver;
import dev.moe.placement.solve.ReplanPath;
import dev.moe.placement.solve.SolverOptions;
import dev.moe.stats.JsonInput;
import dev.moe.stats.RoutingStats;
import dev.moe.stats.RoutingStatsReader;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

@Command(
    name = "solve",
    sortOptions = false,
    defaultValueProvider = Converters.SolverDefaults.class,
    description = {
      "Solves which GPU holds which expert replica for the given routing statistics and writes the placement.",
      "Slots per GPU come from --slots-per-gpu, or from --gpu-memory and --expert-bytes (exactly one of the two)."
    })
final class SolveCommand implements Callable<Integer> {

  @Mixin PlacementCli.HelpOption help;

  @Spec CommandSpec spec;

  @ParentCommand PlacementCli cli;

  @Option(names = "--stats", required = true, paramLabel = "FILE",
      description = "Routing statistics: SGLang's {\"logical_count\": [layers][experts]}, an OLMoE layer_counts file, or CSV.")
  Path stats;

  @Option(names = "--transitions", paramLabel = "FILE",
      description = "Inter-layer transitions, {\"pairs\": {\"0->7\": [E][E]}}, merged into the statistics.")
  Path transitions;

  @Option(names = "--gpus", required = true, paramLabel = "N", description = "GPUs in the cluster.")
  int gpus;

  @Option(names = "--gpus-per-node", required = true, paramLabel = "N", description = "GPUs per node; divides --gpus.")
  int gpusPerNode;

  @Option(names = "--slots-per-gpu", paramLabel = "N", description = "Expert replicas each GPU holds.")
  Integer slotsPerGpu;

  @Option(names = "--gpu-memory", paramLabel = "BYTES", converter = Converters.ByteSizeConverter.class,
      description = "Memory of one GPU (e.g. 80GiB); with --expert-bytes, instead of --slots-per-gpu.")
  Long gpuMemory;

  @Option(names = "--expert-bytes", paramLabel = "BYTES", converter = Converters.ByteSizeConverter.class,
      description = "Memory of one expert replica.")
  Long expertBytes;

  @Option(names = "--reserved-bytes", paramLabel = "BYTES", converter = Converters.ByteSizeConverter.class,
      description = "GPU memory kept for everything but experts (default: 0).")
  Long reservedBytes;

  @Option(names = "--inter-node-cost", paramLabel = "X", defaultValue = "" + ClusterSpec.DEFAULT_INTER_NODE_COST,
      description = "Cost of a dispatch that leaves its node, relative to one that only leaves its GPU (default: ${DEFAULT-VALUE}).")
  double interNodeCost;

  @Option(names = "--current", paramLabel = "FILE",
      description = "The placement being served: moves are counted against it; with --max-moves, the output is the "
          + "first step of a re-plan path from it to a fresh solve (the next re-plan from that step goes on).")
  Path current;

  @Option(names = "--max-moves", paramLabel = "N",
      description = "Replicas one re-plan step may move against --current, over all layers (default: unlimited). "
          + "A step takes about twice --time-limit: the fresh solve and a search from --current get it each.")
  Integer maxMoves;

  @Option(names = "--time-limit", paramLabel = "TIME", converter = Converters.DurationConverter.class,
      description = "Wall time for the whole solve: 10s, 500ms, 2m or seconds (default: ${DEFAULT-VALUE}).")
  Duration timeLimit;

  @Option(names = "--cross-node-weight", paramLabel = "W",
      description = "Weight of dispatch traffic against max GPU load: a dispatch that leaves its node costs "
          + "--inter-node-cost, one that only leaves its GPU 1 (default: ${DEFAULT-VALUE}).")
  double crossNodeWeight;

  @Option(names = "--affinity-weight", paramLabel = "W",
      description = "Share of max GPU load the solver may give up to keep inter-layer transitions and "
          + "co-activated experts on one GPU (default: ${DEFAULT-VALUE}; 0 turns it off).")
  double affinityWeight;

  @Option(names = "--migration-weight", paramLabel = "W",
      description = "Weight of a moved replica, as a fraction of a layer's mean GPU load (default: ${DEFAULT-VALUE}).")
  double migrationWeight;

  @Option(names = "--hot-expert-min-nodes", paramLabel = "N",
      description = "The hottest experts keep replicas on at least this many nodes (default: ${DEFAULT-VALUE}; 1 turns it off).")
  int hotExpertMinNodes;

  @Option(names = "--threads", paramLabel = "N", description = "Layers solved in parallel (default: ${DEFAULT-VALUE}).")
  int threads;

  @Option(names = "--out", required = true, paramLabel = "FILE",
      description = "Where to write the placement (map, shares, slots per GPU and report).")
  Path out;

  @Option(names = "--sglang-out", paramLabel = "FILE",
      description = "Also write {\"physical_to_logical_map\": ...} alone, for SGLang's --init-expert-location, which rejects other keys.")
  Path sglangOut;

  @Override
  public Integer call() {
    ClusterSpec cluster = new ClusterSpec(gpus, gpusPerNode, slotsPerGpu(), interNodeCost);
    if (maxMoves != null && current == null) {
      throw new ParameterException(spec.commandLine(), "--max-moves needs --current: moves are counted against it");
    }
    if (maxMoves != null && maxMoves < 0) {
      throw new ParameterException(spec.commandLine(), "--max-moves must be >= 0, got " + maxMoves);
    }
    RoutingStats routing = RoutingStatsReader.readLayerCounts(stats, transitions);
    if (cluster.slots() < routing.experts()) {
      throw new IllegalArgumentException(cluster.gpus() + " GPUs x " + cluster.slotsPerGpu() + " slots = "
          + cluster.slots() + " slots cannot hold the " + routing.experts() + " experts of " + stats
          + ": every expert needs a slot");
    }
    Placement served = current == null ? null : readCurrent(routing, cluster);
    SolverOptions options = new SolverOptions(timeLimit, maxMoves == null ? -1 : maxMoves, crossNodeWeight,
        affinityWeight, migrationWeight, hotExpertMinNodes, threads);
    Placement placement = served != null && maxMoves != null
        ? new ReplanPath(options).plan(routing, cluster, served).placement()
        : new PlacementSolver(options).solve(routing, cluster, served);
    try {
      PlacementJson.write(placement, out);
    } catch (IOException e) {
      throw new IllegalArgumentException("cannot write " + out + ": " + JsonInput.ioReason(e));
    }
    if (sglangOut != null) {
      try {
        PlacementJson.writeSglang(placement, sglangOut);
      } catch (IOException e) {
        throw new IllegalArgumentException("cannot write " + sglangOut + ": " + JsonInput.ioReason(e));
      }
    }
    cli.out.println(summary(placement, routing) + " -> " + out);
    return 0;
  }

  private int slotsPerGpu() {
    boolean memory = gpuMemory != null || expertBytes != null || reservedBytes != null;
    if (slotsPerGpu != null && memory) {
      throw new ParameterException(spec.commandLine(),
          "give either --slots-per-gpu or --gpu-memory with --expert-bytes, not both");
    }
    if (slotsPerGpu != null) {
      return slotsPerGpu;
    }
    if (gpuMemory == null || expertBytes == null) {
      throw new ParameterException(spec.commandLine(), memory
          ? "--gpu-memory and --expert-bytes go together: give both"
          : "missing --slots-per-gpu, or --gpu-memory with --expert-bytes");
    }
    long reserved = reservedBytes == null ? 0 : reservedBytes;
    int slots = ClusterSpec.slotsFromMemory(gpuMemory, reserved, expertBytes);
    if (slots < 1) {
      throw new IllegalArgumentException("--gpu-memory " + gpuMemory + " less --reserved-bytes " + reserved
          + " holds no expert of --expert-bytes " + expertBytes);
    }
    return slots;
  }

  private Placement readCurrent(RoutingStats routing, ClusterSpec cluster) {
    Placement served = PlacementJson.read(current, routing.experts(), cluster.slotsPerGpu());
    if (served.layers() != routing.layers()) {
      throw new IllegalArgumentException("--current " + current + " has " + served.layers() + " layers, but "
          + stats + " has " + routing.layers());
    }
    if (served.slots() != cluster.slots() || served.slotsPerGpu() != cluster.slotsPerGpu()) {
      throw new IllegalArgumentException("--current " + current + " is for " + served.gpus() + " GPUs x "
          + served.slotsPerGpu() + " slots, but the cluster is " + cluster.gpus() + " GPUs x " + cluster.slotsPerGpu());
    }
    return served;
  }

  static String summary(Placement placement, RoutingStats routing) {
    PlacementReport r = placement.report();
    return String.format(Locale.ROOT,
        "%d layers x %d experts on %d GPUs x %d slots: balancedness %.4f (bound %.4f, gap %.2f%%), "
            + "cross-node %.1f%%, cross-GPU transitions %s, replicas moved %d, %.2f s",
        routing.layers(), routing.experts(), placement.gpus(), placement.slotsPerGpu(), r.balancedness(),
        r.balancednessBound(), 100 * r.gap(), 100 * r.crossNodeFraction(),
        Double.isNaN(r.crossGpuTransitionFraction())
            ? "n/a"
            : String.format(Locale.ROOT, "%.1f%%", 100 * r.crossGpuTransitionFraction()),
        r.replicasMoved(), r.solveSeconds())
        + (Double.isNaN(r.targetBalancedness()) ? ""
            : String.format(Locale.ROOT, ", a step towards %.4f", r.targetBalancedness()));
  }
}

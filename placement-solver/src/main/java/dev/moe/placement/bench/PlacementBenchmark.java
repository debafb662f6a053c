package dev.moe.placement.bench;

import dev.moe.placement.ClusterSpec;
import dev.moe.placement.Placement;
import dev.moe.placement.PlacementEvaluator;
import dev.moe.placement.PlacementReport;
import dev.moe.placement.Placer;
import dev.moe.placement.baseline.ContiguousPlacer;
import dev.moe.placement.baseline.EplbPlacer;
import dev.moe.placement.solve.PlacementSolver;
import dev.moe.placement.solve.SolverOptions;
import dev.moe.stats.RoutingStats;
import dev.moe.stats.RoutingStatsReader;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;

/**
 * The figures of the README, measured on the shared routing statistics: our solver against EPLB
 * (global and hierarchical) side by side in one run, on the same machine.
 */
public final class PlacementBenchmark {

  /** DeepSeek-V3 routes each token within 8 expert groups of 32. */
  private static final int DEEPSEEK_V3_GROUPS = 8;

  private static final List<ClusterSpec> DEEPSEEK_CLUSTERS =
      List.of(new ClusterSpec(32, 8, 9), new ClusterSpec(64, 8, 5), new ClusterSpec(144, 8, 2));

  /** Where the shift benchmark fits (decode) and re-plans (prefill). */
  private static final List<String[]> SHIFTS = List.of(
      new String[] {"decode_in1000out1000", "prefill_in1000out1000"},
      new String[] {"decode_in2000out100", "prefill_in2000out100"});

  private static final int[] MOVE_PERCENTS = {0, 2, 5, 10, 20};

  private final Path data;
  private final Duration timeLimit;
  private final boolean quick;
  private final PrintStream out;

  private PlacementBenchmark(Path data, Duration timeLimit, boolean quick, PrintStream out) {
    this.data = data;
    this.timeLimit = timeLimit;
    this.quick = quick;
    this.out = out;
  }

  /**
   * @param quick one file and cluster per table, for tests
   */
  public static void run(Path dataDir, Duration timeLimit, boolean quick, PrintStream out) {
    PlacementBenchmark bench = new PlacementBenchmark(dataDir, timeLimit, quick, out);
    out.printf(Locale.ROOT, "# placement-solver bench (%s, time limit %ss per solve, %d threads)%n%n",
        dataDir, timeLimit.toMillis() / 1000.0, Runtime.getRuntime().availableProcessors());
    bench.deepSeekBalance();
    bench.shift();
    ReplanPathTable.print(dataDir.resolve("deepseek-v3-sglang"), bench.options(), quick, out);
    bench.perDomain();
    AffinityTable.print(dataDir, bench.options(), quick, out);
  }

  private SolverOptions options() {
    return SolverOptions.defaults().withTimeLimit(timeLimit);
  }

  private void deepSeekBalance() {
    out.println("## DeepSeek-V3 (58 MoE layers x 256 experts): balancedness");
    out.println();
    out.println("| file | GPUs x slots | contiguous | EPLB global | EPLB hier. | ours | bound | gap | cross-node EPLB | cross-node ours | EPLB s | ours s |");
    out.println("|---|---|---|---|---|---|---|---|---|---|---|---|");
    for (Path file : deepSeekFiles()) {
      RoutingStats stats = RoutingStatsReader.read(file);
      for (ClusterSpec cluster : quick ? DEEPSEEK_CLUSTERS.subList(0, 1) : DEEPSEEK_CLUSTERS) {
        Timed contiguous = timed(new ContiguousPlacer(), stats, cluster);
        Timed eplb = timed(new EplbPlacer(EplbPlacer.Mode.GLOBAL, 1), stats, cluster);
        boolean hierarchical = DEEPSEEK_V3_GROUPS % cluster.nodes() == 0;
        String hier = hierarchical
            ? f4(timed(new EplbPlacer(EplbPlacer.Mode.HIERARCHICAL, DEEPSEEK_V3_GROUPS), stats, cluster)
                .report().balancedness())
            : "-";
        PlacementReport ours = new PlacementSolver(options()).solve(stats, cluster, null).report();
        out.printf(Locale.ROOT, "| %s | %d x %d | %s | %s | %s | %s | %s | %.2f%% | %s | %s | %.3f | %.2f |%n",
            name(file), cluster.gpus(), cluster.slotsPerGpu(), f4(contiguous.report().balancedness()),
            f4(eplb.report().balancedness()), hier,
            f4(ours.balancedness()), f4(ours.balancednessBound()), 100 * ours.gap(),
            f3(eplb.report().crossNodeFraction()), f3(ours.crossNodeFraction()), eplb.seconds(),
            ours.solveSeconds());
      }
      if (quick) {
        break;
      }
    }
    out.println();
  }

  private void shift() {
    ClusterSpec cluster = DEEPSEEK_CLUSTERS.getFirst();
    out.printf(Locale.ROOT,
        "## Traffic shift, %d GPUs x %d slots: fitted on decode, served on prefill%n%n",
        cluster.gpus(), cluster.slotsPerGpu());
    out.println("| decode -> prefill | plan | moves allowed | replicas moved | balancedness on prefill |");
    out.println("|---|---|---|---|---|");
    for (String[] pair : quick ? SHIFTS.subList(0, 1) : SHIFTS) {
      RoutingStats before = RoutingStatsReader.read(data.resolve("deepseek-v3-sglang").resolve(pair[0] + ".json"));
      RoutingStats after = RoutingStatsReader.read(data.resolve("deepseek-v3-sglang").resolve(pair[1] + ".json"));
      String label = pair[0] + " -> " + pair[1];
      int replicas = moeLayers(after) * cluster.slots();
      Placer eplbPlacer = new EplbPlacer(EplbPlacer.Mode.GLOBAL, 1);
      Placement eplbOld = eplbPlacer.place(before, cluster);
      Placement eplbNew = eplbPlacer.place(after, cluster);
      row(label, "EPLB, kept", "-", 0, replicas,
          PlacementEvaluator.evaluate(after, cluster, eplbOld, null, 0).balancedness());
      row(label, "EPLB, recomputed", "all", PlacementEvaluator.replicasMoved(eplbOld, eplbNew, cluster.slotsPerGpu()),
          replicas, PlacementEvaluator.evaluate(after, cluster, eplbNew, null, 0).balancedness());
      Placement fitted = new PlacementSolver(options()).solve(before, cluster, null);
      for (int percent : quick ? new int[] {0, 10} : MOVE_PERCENTS) {
        int budget = replicas * percent / 100;
        Placement replanned = new PlacementSolver(options().withMaxMoves(budget)).solve(after, cluster, fitted);
        row(label, "ours, re-planned", percent + "%", replanned.report().replicasMoved(), replicas,
            replanned.report().balancedness());
      }
      Placement fresh = new PlacementSolver(options()).solve(after, cluster, null);
      row(label, "ours, from scratch", "all", PlacementEvaluator.replicasMoved(fitted, fresh, cluster.slotsPerGpu()),
          replicas, fresh.report().balancedness());
    }
    out.println();
  }

  private void row(String label, String plan, String allowed, int moved, int replicas, double balancedness) {
    out.printf(Locale.ROOT, "| %s | %s | %s | %d (%.1f%%) | %s |%n",
        label, plan, allowed, moved, 100.0 * moved / replicas, f4(balancedness));
  }

  private void perDomain() {
    ClusterSpec cluster = new ClusterSpec(8, 4, 8);
    out.printf(Locale.ROOT, "## Per-domain statistics, %d GPUs (%d nodes) x %d slots%n%n",
        cluster.gpus(), cluster.nodes(), cluster.slotsPerGpu());
    out.println("| file | layers x experts | EPLB global | ours | bound | gap | ours s |");
    out.println("|---|---|---|---|---|---|---|");
    for (Path file : files(data.resolve("per-domain"), quick ? 1 : Integer.MAX_VALUE)) {
      RoutingStats stats = RoutingStatsReader.read(file);
      PlacementReport eplb = timed(new EplbPlacer(EplbPlacer.Mode.GLOBAL, 1), stats, cluster).report();
      PlacementReport ours = new PlacementSolver(options()).solve(stats, cluster, null).report();
      out.printf(Locale.ROOT, "| %s | %d x %d | %s | %s | %s | %.2f%% | %.2f |%n", name(file), moeLayers(stats),
          stats.experts(), f4(eplb.balancedness()), f4(ours.balancedness()), f4(ours.balancednessBound()),
          100 * ours.gap(), ours.solveSeconds());
    }
    out.println();
  }

  private record Timed(PlacementReport report, double seconds) {}

  private static Timed timed(Placer placer, RoutingStats stats, ClusterSpec cluster) {
    long start = System.nanoTime();
    Placement placement = placer.place(stats, cluster);
    double seconds = (System.nanoTime() - start) / 1e9;
    return new Timed(PlacementEvaluator.evaluate(stats, cluster, placement, null, seconds), seconds);
  }

  private List<Path> deepSeekFiles() {
    return files(data.resolve("deepseek-v3-sglang"), Integer.MAX_VALUE);
  }

  private static List<Path> files(Path dir, int limit) {
    try (Stream<Path> list = Files.list(dir)) {
      return list.filter(p -> p.toString().endsWith(".json")).sorted().limit(limit).toList();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot list " + dir + ": " + e.getMessage(), e);
    }
  }

  static int moeLayers(RoutingStats stats) {
    int n = 0;
    for (int l = 0; l < stats.layers(); l++) {
      if (!stats.isDense(l)) {
        n++;
      }
    }
    return n;
  }

  private static String name(Path file) {
    return file.getFileName().toString().replaceFirst("\\.json$", "");
  }

  private static String f3(double v) {
    return Double.isNaN(v) ? "-" : String.format(Locale.ROOT, "%.3f", v);
  }

  private static String f4(double v) {
    return String.format(Locale.ROOT, "%.4f", v);
  }
}

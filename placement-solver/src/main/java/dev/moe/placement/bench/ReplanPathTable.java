package dev.moe.placement.bench;

import dev.moe.placement.ClusterSpec;
import dev.moe.placement.Placement;
import dev.moe.placement.solve.PlacementSolver;
import dev.moe.placement.solve.ReplanPath;
import dev.moe.placement.solve.SolverOptions;
import dev.moe.stats.RoutingStats;
import dev.moe.stats.RoutingStatsReader;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.stream.IntStream;

/**
 * The re-plan path after a traffic shift: the placement fitted on decode, then budgeted rebalances
 * (each step of {@link ReplanPath} served before the next is planned) towards a fresh solve on
 * prefill, against today's single budgeted re-plan and the fresh solve itself, side by side in one
 * run. The target is solved once and kept, so that every step is measured against the same fresh
 * solve (the operator solves it again at each rebalance).
 */
public final class ReplanPathTable {

  /** Decode statistics the served placement was fitted on, prefill ones it is re-planned for. */
  private static final List<String[]> SHIFTS = List.of(
      new String[] {"decode_in1000out1000", "prefill_in1000out1000"},
      new String[] {"decode_in2000out100", "prefill_in2000out100"});

  private static final List<ClusterSpec> CLUSTERS = List.of(new ClusterSpec(144, 8, 2), new ClusterSpec(32, 8, 9));

  private static final int MAX_STEPS = 6;
  private static final int BUDGET_PERCENT = 10;

  private ReplanPathTable() {}

  /** @param quick one shift at 144 x 2, two steps */
  public static void print(Path deepSeek, SolverOptions options, boolean quick, PrintStream out) {
    out.printf(Locale.ROOT, "## Re-plan path after decode -> prefill: rebalances of at most %d%% of replicas each%n%n",
        BUDGET_PERCENT);
    out.print("| decode -> prefill | GPUs x slots | today's re-plan | "
        + String.join(" | ", IntStream.rangeClosed(1, MAX_STEPS).mapToObj(i -> "step " + i).toList())
        + " | fresh solve | moved in all |\n");
    out.println("|---|---|---|" + "---|".repeat(MAX_STEPS) + "---|---|");
    for (ClusterSpec cluster : quick ? CLUSTERS.subList(0, 1) : CLUSTERS) {
      for (String[] shift : quick ? SHIFTS.subList(0, 1) : SHIFTS) {
        RoutingStats before = RoutingStatsReader.read(deepSeek.resolve(shift[0] + ".json"));
        RoutingStats after = RoutingStatsReader.read(deepSeek.resolve(shift[1] + ".json"));
        row(shift[0] + " -> " + shift[1], before, after, cluster, options, quick ? 2 : MAX_STEPS, out);
      }
    }
    out.println();
    out.println("Each cell: balancedness on prefill (replicas moved by that step, % of all). Today's re-plan: one");
    out.println("budgeted search from the decode placement. The steps head for the fresh solve's placement, its GPUs");
    out.println("relabelled per layer to keep what each GPU holds; a layer within 1% of it is where its path ends.");
    out.println();
  }

  private static void row(String label, RoutingStats before, RoutingStats after, ClusterSpec cluster,
      SolverOptions options, int steps, PrintStream out) {
    int replicas = PlacementBenchmark.moeLayers(after) * cluster.slots();
    int budget = replicas * BUDGET_PERCENT / 100;
    Placement served = new PlacementSolver(options).solve(before, cluster, null);
    Placement today = new PlacementSolver(options.withMaxMoves(budget)).solve(after, cluster, served);
    Placement fresh = new PlacementSolver(options).solve(after, cluster, null);
    StringBuilder cells = new StringBuilder();
    ReplanPath path = new ReplanPath(options.withMaxMoves(budget));
    int moved = 0;
    int left = -1;
    boolean done = false;
    for (int i = 0; i < MAX_STEPS; i++) {
      if (i >= steps || done) {
        cells.append(" - |");
        continue;
      }
      ReplanPath.Step step = path.plan(after, cluster, served, fresh);
      left = step.movesLeft();
      int stepMoved = step.placement().report().replicasMoved();
      // A step that moves nothing is no rebalance (the operator declines it): the path ended or stalled.
      done = left == 0 || stepMoved == 0;
      if (stepMoved == 0) {
        cells.append(" - |");
        continue;
      }
      served = step.placement();
      moved += stepMoved;
      cells.append(' ').append(cell(served.report().balancedness(), stepMoved, replicas)).append(" |");
    }
    out.printf(Locale.ROOT, "| %s | %d x %d | %s |%s %.4f | %d (%.1f%%)%s |%n", label, cluster.gpus(),
        cluster.slotsPerGpu(), cell(today.report().balancedness(), today.report().replicasMoved(), replicas), cells,
        fresh.report().balancedness(), moved, 100.0 * moved / replicas,
        left == 0 ? "" : ", " + left + " short of the target");
  }

  private static String cell(double balancedness, int moved, int replicas) {
    return String.format(Locale.ROOT, "%.4f (%.1f%%)", balancedness, 100.0 * moved / replicas);
  }
}

package dev.moe.placement.solve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moe.RoutingData;
import dev.moe.placement.ClusterSpec;
import dev.moe.placement.Placement;
import dev.moe.placement.PlacementEvaluator;
import dev.moe.placement.PlacementReport;
import dev.moe.placement.baseline.EplbPlacer;
import dev.moe.stats.RoutingStats;
import dev.moe.stats.RoutingStatsReader;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** What the optimizer promises, on the shared DeepSeek-V3 and OLMoE statistics. */
class PlacementSolverRealDataTest {

  private static final ClusterSpec CLUSTER = new ClusterSpec(32, 8, 9);
  private static final SolverOptions OPTIONS = SolverOptions.defaults().withTimeLimit(Duration.ofSeconds(5));

  private static RoutingStats deepSeek(String name) {
    return RoutingStatsReader.read(RoutingData.routing("deepseek-v3-sglang/" + name + ".json"));
  }

  @Test
  void beatsEplbOnBalanceAndKeepsMoreTrafficOnNode() {
    RoutingStats stats = deepSeek("decode_in1000out1000");
    Placement eplb = new EplbPlacer(EplbPlacer.Mode.GLOBAL, 1).place(stats, CLUSTER);
    PlacementReport eplbReport = PlacementEvaluator.evaluate(stats, CLUSTER, eplb, null, 0);
    Placement ours = new PlacementSolver(OPTIONS).solve(stats, CLUSTER, null);
    assertEquals(61, ours.layers(), "dense layers pass through");
    assertTrue(ours.report().balancedness() >= 0.995, "balancedness " + ours.report().balancedness());
    assertTrue(ours.report().balancedness() > eplbReport.balancedness());
    assertTrue(ours.report().crossNodeFraction() < eplbReport.crossNodeFraction(),
        ours.report().crossNodeFraction() + " vs EPLB " + eplbReport.crossNodeFraction());
    assertTrue(ours.report().solveSeconds() <= 5.5, "time limit overrun: " + ours.report().solveSeconds());
  }

  @Test
  void replansAShiftWithinTheMoveBudget() {
    RoutingStats decode = deepSeek("decode_in1000out1000");
    RoutingStats prefill = deepSeek("prefill_in1000out1000");
    Placement fitted = new PlacementSolver(OPTIONS).solve(decode, CLUSTER, null);
    int budget = 58 * CLUSTER.slots() / 10;
    // The search stops by itself once no move helps; the generous limit keeps a loaded machine
    // from cutting it short.
    SolverOptions replan = OPTIONS.withTimeLimit(Duration.ofSeconds(30)).withMaxMoves(budget);
    Placement replanned = new PlacementSolver(replan).solve(prefill, CLUSTER, fitted);
    Placement kept = new PlacementSolver(OPTIONS.withMaxMoves(0)).solve(prefill, CLUSTER, fitted);
    assertEquals(0, kept.report().replicasMoved());
    assertTrue(replanned.report().replicasMoved() <= budget);
    assertEquals(replanned.report().replicasMoved(),
        PlacementEvaluator.replicasMoved(fitted, replanned, CLUSTER.slotsPerGpu()));
    assertTrue(replanned.report().balancedness() >= 0.97, "balancedness " + replanned.report().balancedness());
    assertTrue(replanned.report().balancedness() > kept.report().balancedness());
    System.out.printf("re-plan: %.4f with %d moves in %.1f s%n", replanned.report().balancedness(),
        replanned.report().replicasMoved(), replanned.report().solveSeconds());
  }

  @Test
  void keepsTheHottestExpertsOnTwoNodes() {
    RoutingStats stats = deepSeek("prefill_in4096");
    SolverOptions twoNodes = new SolverOptions(Duration.ofSeconds(3), -1, 0.02, 0.02, 0.001, 2, 2);
    Placement p = new PlacementSolver(twoNodes).solve(stats, CLUSTER, null);
    for (int layer = 0; layer < stats.layers(); layer++) {
      if (!stats.isDense(layer)) {
        boolean[] hot = HotExperts.hottest(stats.load(layer));
        assertTrue(HotExperts.spreadOk(p.physicalToLogical()[layer], hot, 2, CLUSTER), "layer " + layer);
      }
    }
    assertTrue(p.report().balancedness() >= 0.99, "balancedness " + p.report().balancedness());
  }

  @Test
  void affinityTermKeepsMoreTransitionsOnOneGpu() {
    RoutingStats stats = RoutingStatsReader.readLayerCounts(
        RoutingData.routing("olmoe-crosslayer/olmoe__expert_counts__arxiv.json"),
        RoutingData.routing("olmoe-crosslayer/olmoe__expert_counts_crosslayer__arxiv.json"));
    ClusterSpec cluster = new ClusterSpec(8, 4, 9);
    SolverOptions options = OPTIONS.withTimeLimit(Duration.ofSeconds(3));
    PlacementReport without = new PlacementSolver(options.withAffinityWeight(0)).solve(stats, cluster, null).report();
    PlacementReport with = new PlacementSolver(options.withAffinityWeight(0.05)).solve(stats, cluster, null).report();
    assertTrue(with.crossGpuTransitionFraction() < without.crossGpuTransitionFraction() - 0.01,
        with.crossGpuTransitionFraction() + " vs " + without.crossGpuTransitionFraction());
    assertTrue(with.balancedness() >= without.balancedness() / 1.05 - 1e-9);
  }
}

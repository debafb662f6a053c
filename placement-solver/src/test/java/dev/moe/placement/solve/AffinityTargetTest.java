package dev.moe.placement.solve;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moe.RoutingData;
import dev.moe.placement.ClusterSpec;
import dev.moe.placement.PlacementEvaluator;
import dev.moe.placement.PlacementReport;
import dev.moe.placement.baseline.ExFlowPlacer;
import dev.moe.placement.baseline.MoETunerPlacer;
import dev.moe.stats.LayerPair;
import dev.moe.stats.RoutingStats;
import dev.moe.stats.RoutingStatsReader;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Issue 19's affinity target on a small instance cut from the OLMoE arxiv statistics (experts 0-15
 * of layers 0, 7 and 15 with the transitions among them), 4 GPUs x 4 slots: ours gives up at most
 * 1% of its balancedness and keeps at least as many transitions on one GPU as MoETuner's program;
 * given the balance ExFlow's program gives up, it keeps at least as many as ExFlow.
 */
class AffinityTargetTest {

  private static final int EXPERTS = 16;
  private static final ClusterSpec CLUSTER = new ClusterSpec(4, 2, 4);
  private static final SolverOptions OPTIONS =
      SolverOptions.defaults().withTimeLimit(Duration.ofSeconds(5));

  private static RoutingStats olmoeCut() {
    RoutingStats full = RoutingStatsReader.readLayerCounts(
        RoutingData.routing("olmoe-crosslayer/olmoe__expert_counts__arxiv.json"),
        RoutingData.routing("olmoe-crosslayer/olmoe__expert_counts_crosslayer__arxiv.json"));
    double[][] counts = new double[full.layers()][EXPERTS];
    for (int l = 0; l < full.layers(); l++) {
      System.arraycopy(full.load(l), 0, counts[l], 0, EXPERTS);
    }
    Map<LayerPair, double[][]> transitions = new HashMap<>();
    for (Map.Entry<LayerPair, double[][]> pair : full.transitions().entrySet()) {
      double[][] cut = new double[EXPERTS][EXPERTS];
      for (int i = 0; i < EXPERTS; i++) {
        System.arraycopy(pair.getValue()[i], 0, cut[i], 0, EXPERTS);
      }
      transitions.put(pair.getKey(), cut);
    }
    return new RoutingStats(counts, transitions, null);
  }

  @Test
  void keepsBalanceAndAtLeastMoETunersTransitions() {
    RoutingStats stats = olmoeCut();
    PlacementReport without = new PlacementSolver(OPTIONS.withAffinityWeight(0)).solve(stats, CLUSTER, null).report();
    PlacementReport with = new PlacementSolver(OPTIONS).solve(stats, CLUSTER, null).report();
    PlacementReport moETuner = PlacementEvaluator.evaluate(stats, CLUSTER,
        new MoETunerPlacer(OPTIONS.timeLimit(), OPTIONS.threads()).place(stats, CLUSTER), null, 0);
    System.out.printf("cross-GPU: without %.3f, with %.3f, MoETuner %.3f; balancedness %.4f, %.4f, %.4f%n",
        without.crossGpuTransitionFraction(), with.crossGpuTransitionFraction(),
        moETuner.crossGpuTransitionFraction(), without.balancedness(), with.balancedness(), moETuner.balancedness());
    assertTrue(with.balancedness() >= 0.99 * without.balancedness(),
        with.balancedness() + " vs " + without.balancedness());
    assertTrue(with.crossGpuTransitionFraction() <= moETuner.crossGpuTransitionFraction() + 1e-9,
        with.crossGpuTransitionFraction() + " vs MoETuner " + moETuner.crossGpuTransitionFraction());
  }

  @Test
  void givenExFlowsBalanceKeepsAtLeastExFlowsTransitions() {
    RoutingStats stats = olmoeCut();
    PlacementReport without = new PlacementSolver(OPTIONS.withAffinityWeight(0)).solve(stats, CLUSTER, null).report();
    PlacementReport exFlow = PlacementEvaluator.evaluate(stats, CLUSTER,
        new ExFlowPlacer(OPTIONS.timeLimit(), OPTIONS.threads()).place(stats, CLUSTER), null, 0);
    double slack = without.balancedness() / exFlow.balancedness() - 1;
    PlacementReport matched =
        new PlacementSolver(OPTIONS.withAffinityWeight(slack)).solve(stats, CLUSTER, null).report();
    System.out.printf("cross-GPU: ExFlow %.3f (balancedness %.4f), ours at that balance %.3f (%.4f)%n",
        exFlow.crossGpuTransitionFraction(), exFlow.balancedness(), matched.crossGpuTransitionFraction(),
        matched.balancedness());
    assertTrue(matched.balancedness() >= exFlow.balancedness() - 1e-9);
    assertTrue(matched.crossGpuTransitionFraction() <= exFlow.crossGpuTransitionFraction() + 1e-9,
        matched.crossGpuTransitionFraction() + " vs ExFlow " + exFlow.crossGpuTransitionFraction());
  }
}

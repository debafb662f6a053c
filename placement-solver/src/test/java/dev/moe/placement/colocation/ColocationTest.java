package dev.moe.placement.colocation;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moe.placement.ClusterSpec;
import dev.moe.placement.Placement;
import dev.moe.placement.PlacementEvaluator;
import dev.moe.stats.LayerPair;
import dev.moe.stats.RoutingStats;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Our objective (the most transitions kept on one GPU, the max loads summing to at most a limit)
 * reaches the optimum found by enumeration, never passes the limit, and the search's count of kept
 * transitions is the evaluator's.
 */
class ColocationTest {

  private static final ClusterSpec CLUSTER = new ClusterSpec(2, 1, 3);

  /** Two layers of 5 experts with a replica each of experts 0 (layer 0) and 1 (layer 1), shares uneven. */
  private static Placement start() {
    int[][] maps = {{0, 1, 2, 0, 3, 4}, {1, 0, 2, 3, 1, 4}};
    double[][] shares = {{0.7, 1, 1, 0.3, 1, 1}, {0.4, 1, 1, 1, 0.6, 1}};
    return new Placement(3, maps, shares, null);
  }

  private static RoutingStats instance(Random random) {
    double[][] counts = new double[5][5];
    double[][] load = new double[2][5];
    for (int i = 0; i < 5; i++) {
      for (int j = 0; j < 5; j++) {
        counts[i][j] = random.nextInt(random.nextBoolean() ? 1000 : 50);
        load[0][i] += counts[i][j];
        load[1][j] += counts[i][j];
      }
    }
    return new RoutingStats(load, Map.of(new LayerPair(0, 1), counts), null);
  }

  private static double maxLoadSum(RoutingStats stats, Placement p) {
    double sum = 0;
    for (int l = 0; l < p.layers(); l++) {
      double max = 0;
      for (double v : PlacementEvaluator.gpuLoads(stats.load(l), p.physicalToLogical()[l], p.replicaShares()[l], CLUSTER)) {
        max = Math.max(max, v);
      }
      sum += max;
    }
    return sum;
  }

  private static double kept(RoutingStats stats, Placement p) {
    double all = 0;
    for (double[] row : stats.transitions().values().iterator().next()) {
      for (double c : row) {
        all += c;
      }
    }
    return all * (1 - PlacementEvaluator.evaluate(stats, CLUSTER, p, null, 0).crossGpuTransitionFraction());
  }

  @Test
  void keepsTheMostTransitionsWithinTheLoadLimit() {
    Random random = new Random(31);
    for (int trial = 0; trial < 8; trial++) {
      RoutingStats stats = instance(random);
      double limit = maxLoadSum(stats, start()) * 1.02;
      double best = Double.NEGATIVE_INFINITY;
      for (Placement p : Arrangements.of(start(), CLUSTER)) {
        if (maxLoadSum(stats, p) <= limit) {
          best = Math.max(best, kept(stats, p));
        }
      }
      Placement placed = Colocation.place(stats, CLUSTER, start(), ColocationObjective.keepTransitionsWithin(limit),
          System.nanoTime() + 1_000_000_000L, 1, trial);
      assertTrue(maxLoadSum(stats, placed) <= limit * (1 + 1e-9), "trial " + trial);
      assertEquals(best, kept(stats, placed), 1e-6 * best, "trial " + trial);
      assertEquals(kept(stats, placed),
          ColocationSearch.score(stats, CLUSTER, placed, ColocationObjective.keepTransitions()), 1e-6 * best);
    }
  }
}

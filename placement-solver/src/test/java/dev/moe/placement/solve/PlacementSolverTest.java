package dev.moe.placement.solve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moe.placement.ClusterSpec;
import dev.moe.placement.Placement;
import dev.moe.stats.RoutingStats;
import java.time.Duration;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The optimizer against brute force on instances small enough to enumerate. */
class PlacementSolverTest {

  private static final SolverOptions FAST = SolverOptions.defaults().withTimeLimit(Duration.ofSeconds(2));

  @Test
  void matchesBruteForceOnTinyLayers() {
    SplittableRandom random = new SplittableRandom(42);
    int[][] shapes = {{3, 2, 2}, {4, 2, 3}, {5, 3, 2}, {4, 3, 2}, {6, 2, 4}, {5, 2, 3}};
    for (int[] shape : shapes) {
      int experts = shape[0];
      ClusterSpec cluster = new ClusterSpec(shape[1], 1, shape[2]);
      for (int trial = 0; trial < 4; trial++) {
        double[] load = new double[experts];
        for (int e = 0; e < experts; e++) {
          // Skewed like real routing: a few hot experts.
          load[e] = Math.floor(1 + 100 * Math.pow(random.nextDouble(), 3));
        }
        Placement p = new PlacementSolver(FAST).solve(RoutingStats.ofCounts(new double[][] {load}), cluster, null);
        double solved = new ShareBalancer(load, cluster.gpus(), cluster.slotsPerGpu()).maxLoad(p.physicalToLogical()[0]);
        double best = BruteForce.bestMaxLoad(load, cluster.gpus(), cluster.slotsPerGpu());
        assertEquals(best, solved, 1e-6 * best, () -> "loads " + java.util.Arrays.toString(load) + " on " + cluster);
        double bound = LoadBound.maxLoadLowerBound(load, cluster.gpus(), cluster.slots());
        assertTrue(bound <= best * (1 + 1e-12), "bound " + bound + " above optimum " + best);
      }
    }
  }

  @Test
  void keepsEveryExpertAndFillsEverySlot() {
    double[][] counts = {{50, 1, 1, 1, 1, 1, 30, 2}, {0, 0, 0, 0, 0, 0, 0, 0}, {5, 5, 5, 5, 5, 5, 5, 5}};
    ClusterSpec cluster = new ClusterSpec(4, 2, 3);
    Placement p = new PlacementSolver(FAST).solve(RoutingStats.ofCounts(counts), cluster, null);
    assertEquals(3, p.layers());
    for (int layer = 0; layer < 3; layer++) {
      double[] shareSum = new double[8];
      for (int s = 0; s < cluster.slots(); s++) {
        shareSum[p.physicalToLogical()[layer][s]] += p.replicaShares()[layer][s];
      }
      for (int e = 0; e < 8; e++) {
        assertEquals(1.0, shareSum[e], 1e-9, "layer " + layer + " expert " + e);
      }
    }
    assertTrue(p.report().balancedness() <= p.report().balancednessBound() + 1e-12);
  }

  @Test
  void coLocatesExpertsThatTokensChooseTogether() {
    // 8 equal experts on 4 GPUs x 2 slots; tokens pick (0,7), (1,6), (2,5), (3,4) together.
    double[][] counts = {{10, 10, 10, 10, 10, 10, 10, 10}};
    double[][][] coactivation = new double[1][8][8];
    for (int e = 0; e < 8; e++) {
      coactivation[0][e][7 - e] = 10;
    }
    RoutingStats stats = new RoutingStats(counts, java.util.Map.of(), coactivation);
    ClusterSpec cluster = new ClusterSpec(4, 2, 2);
    int[] map = new PlacementSolver(FAST).solve(stats, cluster, null).physicalToLogical()[0];
    for (int g = 0; g < 4; g++) {
      assertEquals(7, map[2 * g] + map[2 * g + 1], "GPU " + g + " holds " + map[2 * g] + " and " + map[2 * g + 1]);
    }
  }
}

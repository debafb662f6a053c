package dev.moe.placement.baseline;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.moe.placement.ClusterSpec;
import dev.moe.placement.Placement;
import dev.moe.placement.PlacementEvaluator;
import dev.moe.placement.Placer;
import dev.moe.placement.colocation.Arrangements;
import dev.moe.stats.LayerPair;
import dev.moe.stats.RoutingStats;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import java.util.function.ToDoubleFunction;
import org.junit.jupiter.api.Test;

/**
 * ExFlow's and MoETuner's programs reach the optimum of their own objective on instances small
 * enough to enumerate every arrangement of the replicas onto GPUs. The objectives are measured here
 * with {@link PlacementEvaluator}, not with the model's own arithmetic.
 */
class AffinityBaselinesTest {

  private static final Duration LIMIT = Duration.ofSeconds(1);

  /** ExFlow: transitions kept on one GPU, to be maximized. */
  private static double kept(RoutingStats stats, ClusterSpec cluster, Placement p) {
    return allTransitions(stats) * (1 - PlacementEvaluator.evaluate(stats, cluster, p, null, 0).crossGpuTransitionFraction());
  }

  private static double allTransitions(RoutingStats stats) {
    double all = 0;
    for (double[][] counts : stats.transitions().values()) {
      for (double[] row : counts) {
        for (double c : row) {
          all += c;
        }
      }
    }
    return all;
  }

  /** MoETuner: sum of the layers' max GPU loads plus cross-GPU transitions per GPU, to be minimized. */
  private static double loadPlusCrossing(RoutingStats stats, ClusterSpec cluster, Placement p) {
    double cost = (allTransitions(stats) - kept(stats, cluster, p)) / cluster.gpus();
    for (int l = 0; l < stats.layers(); l++) {
      double max = 0;
      for (double v : PlacementEvaluator.gpuLoads(
          stats.load(l), p.physicalToLogical()[l], p.replicaShares()[l], cluster)) {
        max = Math.max(max, v);
      }
      cost += max;
    }
    return cost;
  }

  /** Layers 0 -> 1 (-> 2), random transitions; each layer's load is what the transitions carry. */
  private static RoutingStats instance(Random random, int layers, int experts) {
    Map<LayerPair, double[][]> transitions = new HashMap<>();
    double[][] load = new double[layers][experts];
    for (int l = 0; l + 1 < layers; l++) {
      double[][] counts = new double[experts][experts];
      for (int i = 0; i < experts; i++) {
        for (int j = 0; j < experts; j++) {
          // Skewed, so that affinity and balance pull apart.
          counts[i][j] = random.nextInt(random.nextBoolean() ? 1000 : 50);
          load[l][i] += counts[i][j];
          if (l + 2 == layers) {
            load[l + 1][j] += counts[i][j];
          }
        }
      }
      transitions.put(new LayerPair(l, l + 1), counts);
    }
    return new RoutingStats(load, transitions, null);
  }

  private static void assertReachesEnumeratedOptimum(
      Placer placer, ToDoubleFunction<Placement> objective, boolean maximize, RoutingStats stats, ClusterSpec cluster) {
    Placement start = new EplbPlacer(EplbPlacer.Mode.GLOBAL, 1).place(stats, cluster);
    double best = maximize ? Double.NEGATIVE_INFINITY : Double.POSITIVE_INFINITY;
    for (Placement p : Arrangements.of(start, cluster)) {
      double v = objective.applyAsDouble(p);
      best = maximize ? Math.max(best, v) : Math.min(best, v);
    }
    Placement placed = placer.place(stats, cluster);
    Baselines.assertValid(placed, cluster, stats.layers(), stats.experts());
    assertEquals(best, objective.applyAsDouble(placed), 1e-6 * Math.abs(best));
  }

  /** Both programs on {@code trials} random instances of the size given, 2 GPUs x 2 slots. */
  private static void assertBothReachTheirOptimum(long seed, int layers, int experts, int trials) {
    Random random = new Random(seed);
    ClusterSpec cluster = new ClusterSpec(2, 1, 2);
    for (int trial = 0; trial < trials; trial++) {
      RoutingStats stats = instance(random, layers, experts);
      assertReachesEnumeratedOptimum(new ExFlowPlacer(LIMIT, 1), p -> kept(stats, cluster, p), true, stats, cluster);
      assertReachesEnumeratedOptimum(
          new MoETunerPlacer(LIMIT, 1), p -> loadPlusCrossing(stats, cluster, p), false, stats, cluster);
    }
  }

  @Test
  void oneReplicaPerExpert() {
    // 2 layers x 4 experts on 2 GPUs x 2 slots: 6 x 6 arrangements.
    assertBothReachTheirOptimum(19, 2, 4, 10);
  }

  @Test
  void replicasOnSpareSlotsCountByTheirShares() {
    // 3 experts in 4 slots: EPLB replicates one; three layers, two pairs.
    assertBothReachTheirOptimum(29, 3, 3, 5);
  }
}

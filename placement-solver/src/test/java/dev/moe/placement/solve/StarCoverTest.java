package dev.moe.placement.solve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moe.RoutingData;
import dev.moe.stats.RoutingStats;
import dev.moe.stats.RoutingStatsReader;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** Star covers against brute force on tiny layers, and on the shared DeepSeek-V3 statistics. */
class StarCoverTest {

  private static final long NO_DEADLINE = Long.MAX_VALUE;

  @Test
  void isValidAndNeverBelowTheOptimumOnTinyLayers() {
    SplittableRandom random = new SplittableRandom(11);
    int optimal = 0;
    int trials = 0;
    for (int gpus = 1; gpus <= 3; gpus++) {
      for (int experts = 1; experts <= Math.min(6, 2 * gpus); experts++) {
        for (int trial = 0; trial < 8; trial++) {
          double[] load = tinyLoads(random, experts);
          double total = Arrays.stream(load).sum();
          if (total == 0) {
            continue;
          }
          int[] map = StarCover.place(load, gpus, LoadBound.maxLoadLowerBound(load, gpus, 2 * gpus), total, trial, NO_DEADLINE);
          assertNotNull(map, Arrays.toString(load));
          assertValid(map, experts, gpus);
          double ours = new ShareBalancer(load, gpus, 2).maxLoad(map);
          double best = BruteForce.bestMaxLoad(load, gpus, 2);
          assertTrue(ours >= best * (1 - 1e-9), "below the optimum: " + Arrays.toString(load));
          trials++;
          if (ours <= best * (1 + 1e-6)) {
            optimal++;
          }
        }
      }
    }
    assertTrue(optimal >= 0.95 * trials, optimal + " of " + trials + " optimal");
  }

  @Test
  void coversEveryExpertOnceAtLeastAtAGenerousLoad() {
    double[] load = {9, 7, 5, 0, 0, 3, 1};
    int[] map = StarCover.build(load, 4, 9);
    assertNotNull(map);
    assertValid(map, load.length, 4);
    assertTrue(new ShareBalancer(load, 4, 2).maxLoad(map) <= 9 * (1 + 1e-9));
  }

  @Test
  void balancesTheDeepSeekDecodeLayers() {
    RoutingStats stats = RoutingStatsReader.read(RoutingData.routing("deepseek-v3-sglang/decode_in1000out1000.json"));
    int gpus = 144;
    double meanSum = 0;
    double maxSum = 0;
    long started = System.nanoTime();
    int layers = 0;
    for (int layer = 0; layer < stats.layers(); layer++) {
      if (stats.isDense(layer)) {
        continue;
      }
      double[] load = stats.load(layer);
      double total = Arrays.stream(load).sum();
      int[] map = StarCover.place(load, gpus, LoadBound.maxLoadLowerBound(load, gpus, 2 * gpus), total, layer, System.nanoTime());
      assertNotNull(map);
      assertValid(map, load.length, gpus);
      meanSum += total / gpus;
      maxSum += new ShareBalancer(load, gpus, 2).maxLoad(map);
      layers++;
    }
    double balancedness = meanSum / maxSum;
    double msPerLayer = (System.nanoTime() - started) / 1e6 / layers;
    System.out.printf("greedy star cover on decode_in1000out1000: balancedness %.4f, %.0f ms per layer%n", balancedness, msPerLayer);
    assertEquals(58, layers);
    // The first greedy star cover reached 0.8525; this one 0.873, before the cover search (below) takes it further.
    assertTrue(balancedness > 0.87, "balancedness " + balancedness);
  }

  @Test
  void theCoverSearchBringsDeepSeekDecodeLayersWithinOnePercentOfTheLpBound() {
    RoutingStats stats = RoutingStatsReader.read(RoutingData.routing("deepseek-v3-sglang/decode_in1000out1000.json"));
    int gpus = 144;
    double greedySum = 0;
    double searchedSum = 0;
    double boundSum = 0;
    for (int layer = 4; layer < stats.layers(); layer += 8) {
      double[] load = stats.load(layer);
      double total = Arrays.stream(load).sum();
      double shapes = LoadBound.maxLoadLowerBound(load, gpus, 2 * gpus);
      ShareBalancer balancer = new ShareBalancer(load, gpus, 2);
      double greedy = balancer.maxLoad(StarCover.place(load, gpus, shapes, total, layer, System.nanoTime()));
      // A deadline that does not bind: the search stops when its step falls below the precision.
      int[] map = StarCover.place(load, gpus, shapes, total, layer, System.nanoTime() + 5_000_000_000L);
      assertValid(map, load.length, gpus);
      double searched = balancer.maxLoad(map);
      greedySum += greedy;
      searchedSum += searched;
      boundSum += ComponentLpBound.maxLoadLowerBound(load, gpus, shapes, searched, Long.MAX_VALUE);
    }
    System.out.printf("decode_in1000out1000, 8 layers at 144 x 2: max load above the LP bound: greedy %.2f%%, "
        + "searched %.2f%%%n", 100 * (greedySum / boundSum - 1), 100 * (searchedSum / boundSum - 1));
    assertTrue(searchedSum <= 1.01 * boundSum, "searched " + searchedSum + ", bound " + boundSum);
    assertTrue(searchedSum < greedySum, "searched " + searchedSum + ", greedy " + greedySum);
  }

  static double[] tinyLoads(SplittableRandom random, int experts) {
    double[] load = new double[experts];
    for (int e = 0; e < experts; e++) {
      // Skewed, with some idle experts.
      load[e] = random.nextInt(5) == 0 ? 0 : Math.floor(1 + 60 * Math.pow(random.nextDouble(), 2));
    }
    return load;
  }

  private static void assertValid(int[] map, int experts, int gpus) {
    assertEquals(2 * gpus, map.length);
    boolean[] seen = new boolean[experts];
    for (int e : map) {
      assertTrue(e >= 0 && e < experts);
      seen[e] = true;
    }
    for (int e = 0; e < experts; e++) {
      assertTrue(seen[e], "expert " + e + " has no slot");
    }
  }
}

package dev.moe.placement.solve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moe.RoutingData;
import dev.moe.stats.RoutingStats;
import dev.moe.stats.RoutingStatsReader;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The pairing bound against brute force on tiny layers, and on the shared DeepSeek-V3 statistics. */
class PairingBoundTest {

  @Test
  void neverExceedsTheOptimumOnTinyLayers() {
    SplittableRandom random = new SplittableRandom(5);
    int tight = 0;
    for (int gpus = 1; gpus <= 3; gpus++) {
      for (int experts = 1; experts <= Math.min(6, 2 * gpus); experts++) {
        for (int trial = 0; trial < 8; trial++) {
          double[] load = StarCoverTest.tinyLoads(random, experts);
          if (Arrays.stream(load).sum() == 0) {
            continue;
          }
          double bound = PairingBound.maxLoadLowerBound(load, gpus);
          double best = BruteForce.bestMaxLoad(load, gpus, 2);
          assertTrue(bound <= best * (1 + 1e-12), "bound " + bound + " above optimum " + best + " for "
              + Arrays.toString(load) + " on " + gpus);
          if (bound >= best * (1 - 1e-9)) {
            tight++;
          }
        }
      }
    }
    assertTrue(tight > 0);
  }

  @Test
  void seesThatEveryClosedGroupNeedsTwoExperts() {
    // Mean 12.33 and slot counts allow 12.33; pairs that fit in one GPU force 13.
    double[] load = {10, 12, 4, 6, 5};
    assertEquals(13.0, BruteForce.bestMaxLoad(load, 3, 2), 1e-9);
    assertTrue(LoadBound.slotBound(load, 3, 6) < 12.34);
    double bound = PairingBound.maxLoadLowerBound(load, 3);
    assertTrue(bound > 12.9 && bound <= 13.0, "bound " + bound);
  }

  @Test
  void isTheMeanWhenEveryExpertHasAGpu() {
    assertEquals(2.0, PairingBound.maxLoadLowerBound(new double[] {4, 1, 1}, 3), 1e-12);
  }

  @Test
  void tightensTheSimpleBoundOnTheDeepSeekDecodeLayers() {
    RoutingStats stats = RoutingStatsReader.read(RoutingData.routing("deepseek-v3-sglang/decode_in1000out1000.json"));
    int gpus = 144;
    double meanSum = 0;
    double simpleSum = 0;
    double pairingSum = 0;
    long nanos = 0;
    int layers = 0;
    for (int layer = 0; layer < stats.layers(); layer++) {
      if (stats.isDense(layer)) {
        continue;
      }
      double[] load = stats.load(layer);
      double total = Arrays.stream(load).sum();
      double simple = LoadBound.slotBound(load, gpus, 2 * gpus);
      long started = System.nanoTime();
      double pairing = PairingBound.maxLoadLowerBound(load, gpus);
      nanos += System.nanoTime() - started;
      // Never above a placement that exists.
      int[] map = StarCover.place(load, gpus, simple, total, 0, System.nanoTime());
      assertTrue(pairing <= new ShareBalancer(load, gpus, 2).maxLoad(map) * (1 + 1e-9), "layer " + layer);
      meanSum += total / gpus;
      simpleSum += simple;
      pairingSum += Math.max(simple, pairing);
      layers++;
    }
    System.out.printf("decode_in1000out1000 balancedness at most %.4f (simple bound %.4f), %.1f ms per layer%n",
        meanSum / pairingSum, meanSum / simpleSum, nanos / 1e6 / layers);
    assertTrue(meanSum / pairingSum < 0.90, "bound " + meanSum / pairingSum);
    assertTrue(meanSum / pairingSum < meanSum / simpleSum - 0.04);
  }
}

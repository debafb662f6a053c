package dev.moe.placement.solve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moe.RoutingData;
import dev.moe.stats.RoutingStats;
import dev.moe.stats.RoutingStatsReader;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The LP-priced bound against brute force on tiny layers, and against the fixed price shapes. */
class ComponentLpBoundTest {

  private static final long NO_DEADLINE = Long.MAX_VALUE;

  @Test
  void neverExceedsTheOptimumAndSometimesBeatsTheFixedShapes() {
    SplittableRandom random = new SplittableRandom(19);
    int tighter = 0;
    int trials = 0;
    for (int gpus = 2; gpus <= 3; gpus++) {
      for (int experts = gpus + 1; experts <= 2 * gpus; experts++) {
        for (int trial = 0; trial < 40; trial++) {
          double[] load = StarCoverTest.tinyLoads(random, experts);
          if (Arrays.stream(load).sum() == 0) {
            continue;
          }
          double best = BruteForce.bestMaxLoad(load, gpus, 2);
          double shapes = LoadBound.maxLoadLowerBound(load, gpus, 2 * gpus);
          double priced = ComponentLpBound.maxLoadLowerBound(load, gpus, shapes, best, NO_DEADLINE);
          assertTrue(priced <= best * (1 + 1e-12), "bound " + priced + " above optimum " + best + " for "
              + Arrays.toString(load) + " on " + gpus);
          assertTrue(priced >= shapes);
          trials++;
          if (priced > shapes * (1 + 1e-6)) {
            tighter++;
          }
        }
      }
    }
    assertTrue(tighter > 0, "never tighter in " + trials + " layers");
  }

  @Test
  void pricesThreeLightsPerClosedGroupAtAThird() {
    // Seven experts of load 6 and two of load 2 on 5 GPUs (E - G = 4). Below L = 12 no two
    // experts of load 6 close a group (slack < 1/2), so each closed group needs three of them or
    // two and a load-2 expert: at most three groups. Prices 1/3 for the six-loads (slack just below
    // 1/2) prove it; shapes that price them between slack and 1/2 cannot, the mean allows 9.2.
    double[] load = {6, 6, 6, 6, 6, 6, 6, 2, 2};
    int gpus = 5;
    double shapes = LoadBound.maxLoadLowerBound(load, gpus, 2 * gpus);
    double priced = ComponentLpBound.maxLoadLowerBound(load, gpus, shapes, 12, NO_DEADLINE);
    assertTrue(priced > shapes * 1.001, "priced " + priced + " shapes " + shapes);
    assertTrue(priced <= 12);
  }

  @Test
  void isTheGivenBoundWhenEveryExpertHasAGpu() {
    assertEquals(2.0, ComponentLpBound.maxLoadLowerBound(new double[] {4, 1, 1}, 3, 2.0, 4.0, NO_DEADLINE), 1e-12);
  }

  @Test
  void tightensTheFixedShapesOnTheDeepSeekDecodeLayers() {
    RoutingStats stats = RoutingStatsReader.read(RoutingData.routing("deepseek-v3-sglang/decode_in1000out1000.json"));
    int gpus = 144;
    double shapesSum = 0;
    double pricedSum = 0;
    long nanos = 0;
    for (int layer = 3; layer < stats.layers(); layer += 12) {
      double[] load = stats.load(layer);
      double total = Arrays.stream(load).sum();
      double shapes = LoadBound.maxLoadLowerBound(load, gpus, 2 * gpus);
      int[] map = StarCover.place(load, gpus, shapes, total, 0, System.nanoTime());
      double found = new ShareBalancer(load, gpus, 2).maxLoad(map);
      long started = System.nanoTime();
      double priced = ComponentLpBound.maxLoadLowerBound(load, gpus, shapes, found, NO_DEADLINE);
      nanos += System.nanoTime() - started;
      assertTrue(priced >= shapes && priced <= found, "layer " + layer);
      shapesSum += shapes;
      pricedSum += priced;
    }
    System.out.printf("decode_in1000out1000: LP prices raise the bound on max load by %.2f%%, %d ms per layer%n",
        100 * (pricedSum / shapesSum - 1), nanos / 1_000_000 / 5);
    assertTrue(pricedSum > shapesSum * 1.001, "priced " + pricedSum + " shapes " + shapesSum);
  }
}

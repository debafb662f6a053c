package dev.moe.operator.stats;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Change points in series of per-interval expert counts drawn as top-k routing does (k distinct
 * experts per token): found where the distribution changed, not found in stationary traffic however
 * correlated its layers, and only called settled once an interval is known to be wholly after it.
 */
class ChangePointTest {

  private static final int EXPERTS = 32;
  private static final int TOP_K = 4;

  /** Skewed towards low experts, and the same reversed: a decode -> prefill-like shift of the hot set. */
  private static final double[] BEFORE = zipf(false);
  private static final double[] AFTER = zipf(true);

  @Test
  void aShiftAtAnIntervalsStartIsSplitThere() {
    for (int seed = 0; seed < 20; seed++) {
      Random random = new Random(seed);
      List<double[][]> series = new ArrayList<>();
      for (int i = 0; i < 8; i++) {
        series.add(interval(random, 500, i < 5 ? 1 : 0, BEFORE, AFTER, BEFORE, AFTER));
      }
      ChangePoint.Split split = ChangePoint.find(series).orElseThrow();
      assertEquals(5, split.after(), "seed " + seed);
      assertTrue(split.settled());
      assertTrue(split.statistic() > split.threshold());
    }
  }

  @Test
  void aShiftInsideAnIntervalLeavesItOutOfThePartAfter() {
    for (int seed = 0; seed < 20; seed++) {
      Random random = new Random(seed);
      List<double[][]> series = new ArrayList<>();
      for (int i = 0; i < 6; i++) {
        // Interval 3 is 40% before, 60% after the shift.
        series.add(interval(random, 2000, i < 3 ? 1 : i == 3 ? 0.4 : 0, BEFORE, AFTER, BEFORE, AFTER));
      }
      ChangePoint.Split split = ChangePoint.find(series).orElseThrow();
      assertEquals(4, split.after(), "seed " + seed);
      assertTrue(split.settled());
    }
  }

  @Test
  void aShiftInOneLayerOfTwoIsFound() {
    Random random = new Random(3);
    List<double[][]> series = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      series.add(interval(random, 2000, i < 2 ? 1 : 0, BEFORE, AFTER, BEFORE, BEFORE));
    }
    assertEquals(2, ChangePoint.find(series).orElseThrow().after());
  }

  @Test
  void stationaryTrafficIsNotSplit() {
    int splits = 0;
    int runs = 300;
    for (int seed = 0; seed < runs; seed++) {
      Random random = new Random(1000 + seed);
      List<double[][]> series = new ArrayList<>();
      // From 20 to 2000 tokens an interval: sparse counts and dense ones.
      int tokens = 20 + random.nextInt(1980);
      for (int i = 0; i < 4; i++) {
        series.add(interval(random, tokens, 1, BEFORE, AFTER, AFTER, BEFORE));
      }
      splits += ChangePoint.find(series).isPresent() ? 1 : 0;
    }
    assertTrue(splits <= 1, splits + " of " + runs + " stationary series split");
  }

  @Test
  void layersThatRouteAlikeAreNotTakenForIndependentEvidence() {
    // Both layers see the same draws: summing their statistics would double the noise's.
    int splits = 0;
    for (int seed = 0; seed < 300; seed++) {
      Random random = new Random(5000 + seed);
      List<double[][]> series = new ArrayList<>();
      for (int i = 0; i < 4; i++) {
        double[] layer = draw(random, 300, BEFORE);
        series.add(new double[][] {layer, layer.clone()});
      }
      splits += ChangePoint.find(series).isPresent() ? 1 : 0;
    }
    assertTrue(splits <= 1, splits + " of 300 stationary series split");
  }

  @Test
  void aShiftInTheLastIntervalWaitsUnlessTheIntervalBeforeHeldIt() {
    Random random = new Random(7);
    List<double[][]> atTheEnd = new ArrayList<>();
    List<double[][]> justBefore = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      // The change at the start of the last interval or inside it: it cannot be told which.
      atTheEnd.add(interval(random, 2000, i < 3 ? 1 : 0, BEFORE, AFTER, BEFORE, AFTER));
      // Inside the third: the last is wholly after it.
      justBefore.add(interval(random, 2000, i < 2 ? 1 : i == 2 ? 0.7 : 0, BEFORE, AFTER, BEFORE, AFTER));
    }
    ChangePoint.Split end = ChangePoint.find(atTheEnd).orElseThrow();
    assertEquals(3, end.after());
    assertFalse(end.settled());
    ChangePoint.Split before = ChangePoint.find(justBefore).orElseThrow();
    assertEquals(3, before.after());
    assertTrue(before.settled());
  }

  @Test
  void oneIntervalHasNoChangePoint() {
    assertTrue(ChangePoint.find(List.<double[][]>of(interval(new Random(1), 100, 1, BEFORE, AFTER, BEFORE, AFTER))).isEmpty());
    assertTrue(ChangePoint.find(List.of()).isEmpty());
  }

  @Test
  void theThresholdIsTheChiSquareTailBound() {
    // d + 2 sqrt(d x) + 2x, x = ln(tests / 0.001): for 255 degrees of freedom and 3 splits, about 361.
    assertEquals(361.3, ChangePoint.threshold(255, 3), 0.1);
    double[][] same = {{10, 20, 30}};
    assertEquals(0, ChangePoint.statistic(same, new double[][] {{20, 40, 60}}), 1e-9);
  }

  /**
   * One interval of two layers: {@code tokens} tokens, a {@code share} of them routed as before
   * ({@code layer0Before}, {@code layer1Before}), the rest as after.
   */
  private static double[][] interval(Random random, int tokens, double share, double[] layer0Before,
      double[] layer0After, double[] layer1Before, double[] layer1After) {
    int before = (int) Math.round(tokens * share);
    double[][] counts = {draw(random, before, layer0Before), draw(random, before, layer1Before)};
    double[][] rest = {draw(random, tokens - before, layer0After), draw(random, tokens - before, layer1After)};
    for (int l = 0; l < 2; l++) {
      for (int e = 0; e < EXPERTS; e++) {
        counts[l][e] += rest[l][e];
      }
    }
    return counts;
  }

  /** The counts of {@code tokens} tokens each routed to {@link #TOP_K} distinct experts drawn by {@code weights}. */
  private static double[] draw(Random random, int tokens, double[] weights) {
    double[] counts = new double[EXPERTS];
    for (int t = 0; t < tokens; t++) {
      boolean[] taken = new boolean[EXPERTS];
      for (int k = 0; k < TOP_K; k++) {
        double left = 0;
        for (int e = 0; e < EXPERTS; e++) {
          left += taken[e] ? 0 : weights[e];
        }
        double r = random.nextDouble() * left;
        int e = 0;
        while (e < EXPERTS - 1 && (taken[e] || (r -= weights[e]) > 0)) {
          e++;
        }
        while (taken[e]) {
          // Rounding ran past the last untaken expert.
          e--;
        }
        taken[e] = true;
        counts[e]++;
      }
    }
    return counts;
  }

  private static double[] zipf(boolean reversed) {
    double[] w = new double[EXPERTS];
    for (int e = 0; e < EXPERTS; e++) {
      w[reversed ? EXPERTS - 1 - e : e] = 1.0 / (e + 1);
    }
    return w;
  }
}

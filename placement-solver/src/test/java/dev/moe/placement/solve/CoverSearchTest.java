package dev.moe.placement.solve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The bin-covering search against enumeration on small instances, and on planted covers. */
class CoverSearchTest {

  private static final long NO_DEADLINE = Long.MAX_VALUE;

  /** What each planted group's slacks sum to: a cover with 1% to spare per group. */
  private static final double SPARE = 1.01;

  @Test
  void findsACoverExactlyWhenEnumerationDoes() {
    SplittableRandom random = new SplittableRandom(5);
    int exist = 0;
    int none = 0;
    for (int trial = 0; trial < 400; trial++) {
      int bins = 1 + random.nextInt(3);
      int n = 2 * bins + random.nextInt(3);
      double[] slack = new double[n];
      for (int e = 0; e < n; e++) {
        // Mostly lights, now and then an expert above L (negative slack).
        slack[e] = random.nextInt(8) == 0 ? -random.nextDouble() : random.nextDouble();
      }
      boolean exists = coverExists(slack, bins, new int[n], 0);
      int[] found = CoverSearch.cover(slack, bins, null, trial, 2000, NO_DEADLINE);
      if (exists) {
        exist++;
        assertNotNull(found, "no cover found of " + Arrays.toString(slack) + " in " + bins);
        assertCover(slack, bins, found);
      } else {
        none++;
        assertNull(found, "a cover claimed where none exists: " + Arrays.toString(slack));
      }
    }
    assertTrue(exist > 50 && none > 50, exist + " instances with a cover, " + none + " without");
  }

  @Test
  void closesPlantedCoversThatTheGreedyMisses() {
    SplittableRandom random = new SplittableRandom(17);
    int searched = 0;
    int greedy = 0;
    int instances = 10;
    for (int i = 0; i < instances; i++) {
      double[] slack = planted(random, 112);
      int gpus = slack.length - 112;
      int[] found = CoverSearch.cover(slack, 112, null, i, 200_000, NO_DEADLINE);
      if (found != null) {
        assertCover(slack, 112, found);
        searched++;
      }
      double[] load = new double[slack.length];
      for (int e = 0; e < load.length; e++) {
        load[e] = 1 - slack[e];
      }
      if (StarCover.build(load, gpus, 1.0) != null) {
        greedy++;
      }
    }
    System.out.printf("planted covers closed: search %d of %d, greedy %d%n", searched, instances, greedy);
    assertTrue(searched >= instances - 1, "the search closed " + searched + " of " + instances);
    assertTrue(greedy < searched, "the greedy closed " + greedy + ", the search " + searched);
  }

  @Test
  void startsFromAGivenCoverAndKeepsIt() {
    double[] slack = {0.6, 0.5, 0.52, 0.55, -0.5, 0.9, 0.7};
    int[] start = {0, 1, 1, 0, 2, 2, 2};
    assertEquals(Arrays.toString(start), Arrays.toString(CoverSearch.cover(slack, 3, start, 1, 0, NO_DEADLINE)));
    assertNull(CoverSearch.cover(slack, 4, null, 1, 1000, NO_DEADLINE), "7 experts cannot fill 4 groups of 2");
  }

  /**
   * Groups whose slacks sum to {@link #SPARE} (pairs, triples, and stars of four around an expert
   * above L), shuffled: a cover exists with little to spare.
   */
  private static double[] planted(SplittableRandom random, int groups) {
    double[] all = new double[4 * groups];
    int n = 0;
    for (int g = 0; g < groups; g++) {
      int kind = random.nextInt(10);
      if (kind == 9) {
        double centre = -0.2 - 1.3 * random.nextDouble();
        all[n++] = centre;
        n = split(random, SPARE - centre, 4, 0.9, 0.2, all, n);
      } else {
        n = split(random, SPARE, kind < 6 ? 2 : 3, 0.2, 1, all, n);
      }
    }
    double[] slack = Arrays.copyOf(all, n);
    for (int i = n - 1; i > 0; i--) {
      int j = random.nextInt(i + 1);
      double t = slack[i];
      slack[i] = slack[j];
      slack[j] = t;
    }
    return slack;
  }

  /** {@code parts} random slacks (each from {@code base + spread * U}, scaled) that sum to {@code total}. */
  private static int split(SplittableRandom random, double total, int parts, double base, double spread, double[] into,
      int n) {
    double[] p = new double[parts];
    double sum = 0;
    for (int k = 0; k < parts; k++) {
      p[k] = base + spread * random.nextDouble();
      sum += p[k];
    }
    for (int k = 0; k < parts; k++) {
      into[n++] = p[k] * total / sum + 1e-9;
    }
    return n;
  }

  private static boolean coverExists(double[] slack, int bins, int[] group, int e) {
    if (e == slack.length) {
      try {
        assertCover(slack, bins, group);
        return true;
      } catch (AssertionError notACover) {
        return false;
      }
    }
    for (int b = 0; b < bins; b++) {
      group[e] = b;
      if (coverExists(slack, bins, group, e + 1)) {
        return true;
      }
    }
    return false;
  }

  private static void assertCover(double[] slack, int bins, int[] group) {
    double[] sum = new double[bins];
    int[] size = new int[bins];
    int[] above = new int[bins];
    for (int e = 0; e < slack.length; e++) {
      sum[group[e]] += slack[e];
      size[group[e]]++;
      above[group[e]] += slack[e] < 0 ? 1 : 0;
    }
    for (int b = 0; b < bins; b++) {
      assertTrue(sum[b] >= 1 - 1e-9 && size[b] >= 2 && above[b] <= 1,
          "group " + b + ": slack " + sum[b] + ", " + size[b] + " experts, " + above[b] + " above L");
    }
  }
}

package dev.moe.runtime.replay;

import dev.moe.stats.RoutingStats;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Token routings drawn from routing statistics: per layer, each token's k experts are drawn
 * without replacement with probability proportional to the layer's {@code logical_count} (Vose's
 * alias method, redrawing an expert the token already has), and its k weights are random and sum
 * to 1. Aggregates are all the statistics give, so tokens are independent of one another and of
 * their other layers.
 */
public final class TraceGenerator {

  private final int k;
  private final int experts;
  private final double[][] prob;
  private final int[][] alias;
  private final SplittableRandom random;

  /** @param layers the layers of {@code stats} to draw for, in the order {@link #draw} takes */
  public TraceGenerator(RoutingStats stats, int[] layers, int k, long seed) {
    this.k = k;
    this.experts = stats.experts();
    this.prob = new double[layers.length][];
    this.alias = new int[layers.length][];
    for (int i = 0; i < layers.length; i++) {
      double[] w = stats.load(layers[i]);
      long nonzero = Arrays.stream(w).filter(v -> v > 0).count();
      if (nonzero < k) {
        throw new IllegalArgumentException("layer " + layers[i] + " of the statistics routes to " + nonzero
            + " experts, fewer than top-" + k + ": it cannot be replayed");
      }
      build(i, w);
    }
    this.random = new SplittableRandom(seed);
  }

  private void build(int i, double[] w) {
    int n = w.length;
    double total = 0;
    for (double v : w) {
      total += v;
    }
    double[] scaled = new double[n];
    int[] small = new int[n];
    int[] large = new int[n];
    int ns = 0;
    int nl = 0;
    for (int e = 0; e < n; e++) {
      scaled[e] = w[e] * n / total;
      if (scaled[e] < 1) {
        small[ns++] = e;
      } else {
        large[nl++] = e;
      }
    }
    prob[i] = new double[n];
    alias[i] = new int[n];
    while (ns > 0 && nl > 0) {
      int s = small[--ns];
      int l = large[--nl];
      prob[i][s] = scaled[s];
      alias[i][s] = l;
      scaled[l] -= 1 - scaled[s];
      if (scaled[l] < 1) {
        small[ns++] = l;
      } else {
        large[nl++] = l;
      }
    }
    while (nl > 0) {
      prob[i][large[--nl]] = 1;
    }
    while (ns > 0) {
      prob[i][small[--ns]] = 1;
    }
  }

  /** Fills {@code ids} and {@code weights} ({@code [tokens * k]}) for layer {@code index}. */
  public void draw(int index, int tokens, int[] ids, float[] weights) {
    for (int t = 0; t < tokens; t++) {
      double sum = 0;
      for (int j = 0; j < k; j++) {
        int e;
        do {
          int c = random.nextInt(experts);
          e = random.nextDouble() < prob[index][c] ? c : alias[index][c];
        } while (chosen(ids, t * k, j, e));
        ids[t * k + j] = e;
        weights[t * k + j] = (float) (0.05 + random.nextDouble());
        sum += weights[t * k + j];
      }
      for (int j = 0; j < k; j++) {
        weights[t * k + j] = (float) (weights[t * k + j] / sum);
      }
    }
  }

  private static boolean chosen(int[] ids, int from, int count, int e) {
    for (int j = 0; j < count; j++) {
      if (ids[from + j] == e) {
        return true;
      }
    }
    return false;
  }
}

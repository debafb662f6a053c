package dev.moe.operator.stats;

import java.util.List;
import java.util.Optional;

/**
 * Where a window's routing changed, found in its consecutive intervals' expert counts ([layers]
 * [experts] each). Two parts of the window are compared by the likelihood-ratio (G) statistic of
 * "both drawn from one expert distribution", per layer, averaged over the layers that have tokens
 * on both sides. Under that hypothesis, with counts of independent draws, each layer's G is
 * asymptotically chi-square with (active experts - 1) degrees of freedom; top-k routing draws k
 * distinct experts per token, which makes the spread smaller, so the bound stays conservative. The
 * layers see the same tokens and are not independent, but the mean of chi-square variables,
 * however correlated, has a moment generating function no larger than one of them (Jensen), so
 * the Laurent-Massart tail bound of one, P(X >= d + 2 sqrt(d x) + 2x) <= exp(-x), bounds the mean's:
 * a stationary window is split with probability at most {@link #FALSE_ALARM}, whatever its token
 * counts. The threshold needs no table, no bootstrap and no tuning to the traffic.
 *
 * <p>Fitting on the part after a significant split is also the better estimate of the current
 * routing: dropping the part before removes a bias whose square exceeds the sampling error it adds
 * exactly when G exceeds its degrees of freedom, which the threshold implies; so no separate token
 * floor is needed. What does need waiting is a change that may lie inside the last interval: then
 * no interval is known to be wholly after it ({@link Split#settled}).
 */
public final class ChangePoint {

  /** The chance that a window without a change is split, over all the splits tried. */
  static final double FALSE_ALARM = 1e-3;

  /**
   * A change in the routing.
   *
   * @param after the first interval wholly after the change (the interval before may hold it)
   * @param settled false when the change may lie inside interval {@code after} itself (it is the last,
   *     and the one before it looks like all before it), so that nothing is known to be after it yet
   * @param statistic the split's mean G over the layers
   * @param threshold what a window without a change stays below but with probability {@link #FALSE_ALARM}
   */
  public record Split(int after, boolean settled, double statistic, double threshold) {}

  private ChangePoint() {}

  /** The change in {@code intervals}' routing, if any is significant. */
  public static Optional<Split> find(List<double[][]> intervals) {
    int n = intervals.size();
    if (n < 2) {
      return Optional.empty();
    }
    int experts = intervals.getFirst()[0].length;
    // Every test below has at most the degrees of freedom of the busiest layer; the n - 1 splits are tried.
    double threshold = threshold(experts - 1, n - 1);
    int best = 0;
    double bestStatistic = 0;
    for (int k = 1; k < n; k++) {
      double g = statistic(sum(intervals, 0, k), sum(intervals, k, n));
      if (g > bestStatistic) {
        best = k;
        bestStatistic = g;
      }
    }
    if (bestStatistic <= threshold) {
      return Optional.empty();
    }
    // The part after: the trailing intervals that look alike, back to the split. An interval past the split
    // that differs from those after it holds the change (part before, part after).
    int after = n - 1;
    while (after > best && statistic(intervals.get(after - 1), sum(intervals, after, n)) <= threshold) {
      after--;
    }
    // One interval left after the change, and nothing past the split that differs from it: the change lies at
    // its start or inside it, unless the interval before differs from all before that (then it holds the change).
    boolean settled = n - after >= 2 || after > best
        || after >= 2 && statistic(intervals.get(after - 1), sum(intervals, 0, after - 1)) > threshold;
    return Optional.of(new Split(after, settled, bestStatistic, threshold));
  }

  /**
   * The mean over layers of the G statistic of {@code a} and {@code b} coming from one distribution;
   * layers without tokens on either side count for nothing.
   */
  static double statistic(double[][] a, double[][] b) {
    double sum = 0;
    int layers = 0;
    for (int l = 0; l < a.length; l++) {
      double na = total(a[l]);
      double nb = total(b[l]);
      if (na <= 0 || nb <= 0) {
        continue;
      }
      double g = 0;
      for (int e = 0; e < a[l].length; e++) {
        double t = a[l][e] + b[l][e];
        g += term(a[l][e], t * na / (na + nb)) + term(b[l][e], t * nb / (na + nb));
      }
      sum += 2 * g;
      layers++;
    }
    return layers == 0 ? 0 : sum / layers;
  }

  /** The Laurent-Massart bound for chi-square with {@code df} degrees of freedom, over {@code tests} tests. */
  static double threshold(int df, int tests) {
    double x = Math.log(tests / FALSE_ALARM);
    return df + 2 * Math.sqrt(df * x) + 2 * x;
  }

  private static double term(double observed, double expected) {
    return observed <= 0 ? 0 : observed * Math.log(observed / expected);
  }

  /** Intervals {@code from} (inclusive) to {@code to} (exclusive), summed. */
  static double[][] sum(List<double[][]> intervals, int from, int to) {
    double[][] first = intervals.getFirst();
    double[][] sum = new double[first.length][first[0].length];
    for (double[][] interval : intervals.subList(from, to)) {
      for (int l = 0; l < sum.length; l++) {
        for (int e = 0; e < sum[l].length; e++) {
          sum[l][e] += interval[l][e];
        }
      }
    }
    return sum;
  }

  private static double total(double[] row) {
    double t = 0;
    for (double v : row) {
      t += v;
    }
    return t;
  }
}

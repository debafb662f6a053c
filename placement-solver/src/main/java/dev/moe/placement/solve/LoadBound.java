package dev.moe.placement.solve;

import java.util.Arrays;

/**
 * A proven lower bound on a layer's max GPU load.
 *
 * <p>No GPU can carry less than the mean; and since a replica's share of tokens can never exceed
 * the max load L, expert {@code e} needs at least {@code ceil(w_e / L)} slots, so the smallest L
 * with {@code sum_e ceil(w_e / L) <= slots} bounds L from below too.
 */
public final class LoadBound {

  private LoadBound() {}

  public static double maxLoadLowerBound(double[] load, int gpus, int slots) {
    double total = 0;
    for (double w : load) {
      total += w;
    }
    double mean = total / gpus;
    if (total == 0) {
      return 0;
    }
    if (slotsNeeded(load, mean) <= slots) {
      return mean;
    }
    // slotsNeeded(L) only changes at L = w_e / k: search those breakpoints for the smallest feasible
    // one above the mean. Between breakpoints the count is constant, so the answer is a breakpoint.
    double lo = mean;
    double hi = Arrays.stream(load).max().orElse(0);
    for (int iter = 0; iter < 200 && hi - lo > 1e-12 * hi; iter++) {
      double mid = 0.5 * (lo + hi);
      if (slotsNeeded(load, mid) <= slots) {
        hi = mid;
      } else {
        lo = mid;
      }
    }
    return snapToBreakpoint(load, lo, hi, slots);
  }

  /** Returns the exact breakpoint w_e / k in (lo, hi] that is feasible. */
  private static double snapToBreakpoint(double[] load, double lo, double hi, int slots) {
    double best = hi;
    for (double w : load) {
      if (w <= 0) {
        continue;
      }
      long k = (long) Math.ceil(w / hi);
      for (long kk = Math.max(1, k - 1); kk <= k + 1; kk++) {
        double candidate = w / kk;
        if (candidate > lo && candidate < best && slotsNeeded(load, candidate) <= slots) {
          best = candidate;
        }
      }
    }
    return best;
  }

  static long slotsNeeded(double[] load, double maxLoad) {
    long need = 0;
    for (double w : load) {
      // An expert with no traffic still needs its one replica.
      need += Math.max(1, (long) Math.ceil(w / maxLoad - 1e-12));
    }
    return need;
  }
}

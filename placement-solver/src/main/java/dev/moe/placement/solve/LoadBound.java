package dev.moe.placement.solve;

import java.util.Arrays;

/**
 * A proven lower bound on a layer's max GPU load L.
 *
 * <p>No GPU can carry less than the mean. A replica's share of tokens can never exceed L, so expert
 * e needs at least {@code r_e = max(1, ceil(w_e / L))} slots: L is infeasible when those exceed the
 * slots. And when they fill every slot exactly, no expert has a spare replica: an expert with one
 * slot sits whole on its GPU, beside slotsPerGpu - 1 pieces of other experts, each at least {@code
 * w_e - (r_e - 1) L}; so L is infeasible when the heaviest such expert plus the smallest of those
 * pieces exceeds it. Feasibility only grows with L, so a bisection finds the bound.
 */
public final class LoadBound {

  private LoadBound() {}

  /** With two slots per GPU, the tighter of this bound and {@link PairingBound}'s. */
  public static double maxLoadLowerBound(double[] load, int gpus, int slots) {
    double bound = slotBound(load, gpus, slots);
    return slots == 2 * gpus ? Math.max(bound, PairingBound.maxLoadLowerBound(load, gpus)) : bound;
  }

  /** The bound from the mean and the slots each expert needs, whatever the slots per GPU. */
  static double slotBound(double[] load, int gpus, int slots) {
    int slotsPerGpu = slots / gpus;
    double total = 0;
    double max = 0;
    for (double w : load) {
      total += w;
      max = Math.max(max, w);
    }
    double mean = total / gpus;
    if (total == 0 || feasible(load, mean, slotsPerGpu, slots)) {
      return mean;
    }
    double lo = mean;
    double hi = Math.max(max, mean) * slotsPerGpu;
    while (!feasible(load, hi, slotsPerGpu, slots)) {
      hi *= 2;
    }
    for (int iter = 0; iter < 200 && hi - lo > 1e-13 * hi; iter++) {
      double mid = 0.5 * (lo + hi);
      if (feasible(load, mid, slotsPerGpu, slots)) {
        hi = mid;
      } else {
        lo = mid;
      }
    }
    // lo is infeasible, so every L <= lo is too: a bound that never overshoots the true threshold.
    return lo;
  }

  static boolean feasible(double[] load, double maxLoad, int slotsPerGpu, int slots) {
    long need = 0;
    for (double w : load) {
      need += replicas(w, maxLoad);
    }
    if (need > slots) {
      return false;
    }
    if (need < slots || slotsPerGpu == 1) {
      return true;
    }
    double[] pieces = new double[load.length];
    double heaviestWhole = -1;
    for (int e = 0; e < load.length; e++) {
      long r = replicas(load[e], maxLoad);
      pieces[e] = Math.max(0, load[e] - (r - 1) * maxLoad);
      if (r == 1) {
        heaviestWhole = Math.max(heaviestWhole, load[e]);
      }
    }
    if (heaviestWhole < 0) {
      return true;
    }
    Arrays.sort(pieces);
    // The smallest pieces besides the heaviest whole expert's own (which is among them at most once).
    double beside = 0;
    int taken = 0;
    boolean skipped = false;
    for (int i = 0; i < pieces.length && taken < slotsPerGpu - 1; i++) {
      if (!skipped && pieces[i] == heaviestWhole) {
        skipped = true;
        continue;
      }
      beside += pieces[i];
      taken++;
    }
    return heaviestWhole + beside <= maxLoad;
  }

  private static long replicas(double w, double maxLoad) {
    // An expert with no traffic still needs its one replica.
    return Math.max(1, (long) Math.ceil(w / maxLoad));
  }
}

package dev.moe.placement.solve;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A proven lower bound on a layer's max GPU load L for two slots per GPU, by LP duality over the
 * connected components of the placement.
 *
 * <p>Proof: a placement is a multigraph (experts are vertices, GPUs edges). A component C on m GPUs
 * carries only its own experts and is connected, so m >= w(C) / L and m >= |C| - 1 (m >= 1 for a
 * lone expert): with slack x_e = 1 - w_e / L it saves val(C) = |C| - m <= min(1, floor(x(C)))
 * GPUs, and the saves of all components sum to E - G. Any prices p_e with p(C) >= val(C) for every
 * expert set C give E - G <= sum_e p_e, so L is infeasible when that sum falls short (and so is
 * every smaller L). Rounding slacks up to a grid only raises val, so checks on the grid stay proofs.
 *
 * <p>Prices: light experts (x >= 0) by a shape between x and 1/2 (a closed group needs two of
 * them), checked against every light set by a knapsack; each expert above L at the best value a
 * set of lights buys it (a knapsack); sets with several experts above L by an exact subset DP.
 */
public final class PairingBound {

  /** Slack grid: x is rounded up to a multiple of 1 / GRID. */
  private static final int GRID = 400;

  /**
   * Half-widths b of the flat band of light prices: 0 prices an expert by its slack (the mean
   * bound), 1/2 at 1/2 each (a closed group needs two experts); in between both count.
   */
  private static final double[] BANDS = {0.4, 0.35, 0.45, 0.3, 0.5, 0.425, 0.25, 0.475, 0.2};

  private static final double EPS = 1e-9;

  private PairingBound() {}

  /** The largest max load proven infeasible for {@code gpus} GPUs of two slots, at least the mean. */
  public static double maxLoadLowerBound(double[] load, int gpus) {
    double total = 0;
    double max = 0;
    for (double w : load) {
      total += w;
      max = Math.max(max, w);
    }
    if (total == 0 || load.length <= gpus) {
      return total / gpus;
    }
    double mean = total / gpus;
    double best = mean;
    List<Double> proven = new ArrayList<>();
    List<Prices> provers = new ArrayList<>();
    for (double band : BANDS) {
      for (boolean capLows : new boolean[] {true, false}) {
        Prices prices = new Prices(band, capLows);
        double start = best * (1 + 1e-4);
        if (!prices.proves(load, gpus, start, false)) {
          continue;
        }
        double lo = start;
        double hi = 1.25 * lo;
        while (prices.proves(load, gpus, hi, false)) {
          lo = hi;
          hi *= 1.25;
        }
        for (int iter = 0; iter < 60 && hi - lo > 1e-4 * lo; iter++) {
          double mid = 0.5 * (lo + hi);
          if (prices.proves(load, gpus, mid, false)) {
            lo = mid;
          } else {
            hi = mid;
          }
        }
        best = lo;
        proven.add(lo);
        provers.add(prices);
      }
    }
    // Groups of several experts above L are checked last, from the best result down: they rarely bind.
    for (int i = proven.size() - 1; i >= 0; i--) {
      if (provers.get(i).proves(load, gpus, proven.get(i), true)) {
        return proven.get(i);
      }
    }
    return mean;
  }

  /** One price shape for light experts. */
  private record Prices(double band, boolean capLows) {

    /** Whether these prices prove max load {@code maxLoad} infeasible. */
    boolean proves(double[] load, int gpus, double maxLoad, boolean checkChains) {
      int n = load.length;
      int[] slack = new int[n];
      int bestLight = Integer.MIN_VALUE;
      int secondLight = Integer.MIN_VALUE;
      int maxNeed = GRID;
      int lights = 0;
      for (int e = 0; e < n; e++) {
        slack[e] = (int) Math.ceil((1 - load[e] / maxLoad) * GRID);
        if (slack[e] >= 0) {
          lights++;
          if (slack[e] >= bestLight) {
            secondLight = bestLight;
            bestLight = slack[e];
          } else if (slack[e] > secondLight) {
            secondLight = slack[e];
          }
        } else {
          maxNeed = Math.max(maxNeed, GRID - slack[e]);
        }
      }
      double[] price = new double[n];
      double sum = 0;
      for (int e = 0; e < n; e++) {
        if (slack[e] >= 0) {
          price[e] = lightPrice(slack[e], slack[e] == bestLight ? secondLight : bestLight);
          sum += price[e];
        }
      }
      if (lights >= 2 && cheapestClosedLights(slack, price) < 1 - EPS) {
        return false;
      }
      double[] cover = cheapestCover(slack, price, maxNeed);
      for (int e = 0; e < n; e++) {
        if (slack[e] < 0) {
          price[e] = heavyPrice(GRID - slack[e], cover);
          sum += price[e];
        }
      }
      // Each component may fall EPS short of its value; the margin covers all of them.
      if (sum >= n - gpus - (n + 1) * EPS) {
        return false;
      }
      return !checkChains || chainsCovered(slack, price);
    }

    /**
     * Slack x priced x / (1 - 2b) up to the band, 1/2 on it, symmetric above (p(x) + p(1 - x) =
     * 1), capped at 1/4 for experts no other light can close a pair with.
     */
    private double lightPrice(int slackUnits, int bestOther) {
      double x = slackUnits / (double) GRID;
      double p;
      if (x < 0.5 - band) {
        p = x / (1 - 2 * band);
      } else if (x > 0.5 + band) {
        p = 1 - (1 - x) / (1 - 2 * band);
      } else {
        p = 0.5;
      }
      p = Math.min(1, p);
      if (capLows && slackUnits + bestOther < GRID) {
        p = Math.min(p, 0.25);
      }
      return p;
    }

    /** Cheapest price of two or more lights whose slack reaches 1. */
    private static double cheapestClosedLights(int[] slack, double[] price) {
      double inf = Double.MAX_VALUE / 4;
      double[] one = new double[GRID + 1];
      double[] more = new double[GRID + 1];
      Arrays.fill(one, inf);
      Arrays.fill(more, inf);
      for (int e = 0; e < slack.length; e++) {
        if (slack[e] < 0) {
          continue;
        }
        int x = slack[e];
        double p = price[e];
        for (int t = GRID; t >= 0; t--) {
          int to = Math.min(GRID, t + x);
          double via = Math.min(one[t], more[t]);
          if (via + p < more[to]) {
            more[to] = via + p;
          }
        }
        int to = Math.min(GRID, x);
        one[to] = Math.min(one[to], p);
      }
      return more[GRID];
    }

    /** cover[r]: cheapest price of lights whose slack reaches r / GRID. */
    private static double[] cheapestCover(int[] slack, double[] price, int maxNeed) {
      double[] cover = new double[maxNeed + 1];
      Arrays.fill(cover, Double.MAX_VALUE / 4);
      cover[0] = 0;
      for (int e = 0; e < slack.length; e++) {
        if (slack[e] < 0) {
          continue;
        }
        int x = slack[e];
        double p = price[e];
        for (int r = maxNeed; r > x; r--) {
          double via = cover[r - x] + p;
          if (via < cover[r]) {
            cover[r] = via;
          }
        }
        for (int r = Math.min(x, maxNeed); r > 0; r--) {
          if (p < cover[r]) {
            cover[r] = p;
          }
        }
      }
      return cover;
    }

    /** Best value minus light price for one expert needing {@code need} / GRID of slack. */
    private static double heavyPrice(int need, double[] cover) {
      int loops = (need + GRID - 1) / GRID;
      double best = 1 - loops;
      for (int j = 0; j < loops; j++) {
        int r = need - j * GRID;
        if (r < cover.length) {
          best = Math.max(best, 1 - j - cover[r]);
        }
      }
      return best;
    }

    /** Every set of two or more experts above L, with any lights, is priced at its value. */
    private static boolean chainsCovered(int[] slack, double[] price) {
      int low = 0;
      for (int x : slack) {
        if (x < 0) {
          low += x;
        }
      }
      int size = -low + 1;
      double inf = Double.MAX_VALUE / 4;
      // single[y], multi[y]: cheapest price of one / several heavies with slack sum low + y
      double[] single = new double[size];
      double[] multi = new double[size];
      Arrays.fill(single, inf);
      Arrays.fill(multi, inf);
      for (int e = 0; e < slack.length; e++) {
        if (slack[e] >= 0) {
          continue;
        }
        int x = slack[e];
        for (int y = 0; y < size; y++) {
          int to = y + x;
          if (to >= 0) {
            double via = Math.min(single[y], multi[y]) + price[e];
            if (via < multi[to]) {
              multi[to] = via;
            }
          }
        }
        single[-low + x] = Math.min(single[-low + x], price[e]);
      }
      double[] cover = cheapestCover(slack, price, GRID - low);
      for (int y = 0; y < size; y++) {
        if (multi[y] >= inf) {
          continue;
        }
        int sum = low + y;
        // lights raise the value to v once their slack reaches v - sum
        for (int v = Math.floorDiv(sum, GRID); v <= 1; v++) {
          int r = Math.max(0, v * GRID - sum);
          if (r < cover.length && multi[y] + cover[r] < v - EPS) {
            return false;
          }
        }
      }
      return true;
    }
  }
}

package dev.moe.placement.solve;

import com.google.ortools.Loader;
import com.google.ortools.linearsolver.MPConstraint;
import com.google.ortools.linearsolver.MPObjective;
import com.google.ortools.linearsolver.MPSolver;
import com.google.ortools.linearsolver.MPVariable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * A proven lower bound on a layer's max GPU load L for two slots per GPU: {@link PairingBound}'s
 * LP duality over the components of the placement, with LP-optimal prices instead of fixed shapes.
 *
 * <p>At a given L every placement splits the experts into components C that save val(C) GPUs
 * (see {@link PairingBound}), summing to E - G. The LP "max sum_C val(C) y_C, every expert covered
 * once, y >= 0" relaxes that; its dual is "min sum_e p_e with p(C) >= val(C) for every C". GLOP
 * solves the LP by column generation, starting from the greedy star covers' groups; the pricing
 * problem (the set C whose val(C) - p(C) is largest) is a knapsack over the slack sum, with slacks
 * rounded up to a grid, which only raises val.
 *
 * <p>The proof never trusts GLOP's arithmetic: whatever prices it returns, one knapsack over every
 * set (several experts above L included) finds their largest violation, and raising each price by
 * what covers it makes them dual feasible. L is proven infeasible when those prices sum below
 * E - G, and so is every smaller L.
 */
final class ComponentLpBound {

  /** Slack grid: x is rounded up to a multiple of 1 / GRID. */
  private static final int GRID = 400;

  /** Column generation rounds per L. */
  private static final int MAX_ROUNDS = 40;

  /** Columns added per round: the most violated. */
  private static final int COLUMNS_PER_ROUND = 30;

  /** LPs solved per layer, at loads bisecting the window. */
  private static final int STEPS = 3;

  /** Checks of one LP's prices at higher loads, bisecting. */
  private static final int CHECKS = 5;

  /** The bisection looks this far (relative) above the fixed shapes' bound. */
  private static final double WINDOW = 0.006;

  private static final double EPS = 1e-9;

  private static final double INF = Double.MAX_VALUE / 4;

  static {
    Loader.loadNativeLibraries();
  }

  private ComponentLpBound() {}

  /**
   * The largest L in [{@code proven}, {@code feasible}) proven infeasible for {@code gpus} GPUs of
   * two slots by {@code deadlineNanos}; {@code proven} itself when none above it is.
   */
  static double maxLoadLowerBound(double[] load, int gpus, double proven, double feasible, long deadlineNanos) {
    if (load.length <= gpus || !(feasible > proven)) {
      return proven;
    }
    try (Lp lp = new Lp(load, gpus)) {
      double lo = proven;
      // The LP prices rarely gain more than a few tenths of a percent over the fixed shapes.
      double hi = Math.min(feasible, proven * (1 + WINDOW));
      for (int step = 0; step < STEPS && System.nanoTime() < deadlineNanos; step++) {
        double mid = 0.5 * (lo + hi);
        double[] prices = lp.provingPrices(mid, deadlineNanos);
        if (prices == null) {
          hi = mid;
          continue;
        }
        lo = mid;
        // The same prices often prove higher loads too: checking them costs no LP.
        double top = hi;
        for (int check = 0; check < CHECKS && top - lo > 1e-5 * top; check++) {
          double l = 0.5 * (lo + top);
          if (lp.proves(prices, l)) {
            lo = l;
          } else {
            top = l;
          }
        }
      }
      return lo;
    }
  }

  /** The component LP of one layer; its columns carry over from one L to the next. */
  static final class Lp implements AutoCloseable {
    private final double[] load;
    private final int n;
    private final int need;
    private final MPSolver solver;
    private final MPConstraint[] cover;
    private final List<int[]> columns = new ArrayList<>();
    private final List<MPVariable> vars = new ArrayList<>();
    private final Set<List<Integer>> known = new HashSet<>();
    private int[] slack;

    Lp(double[] load, int gpus) {
      this.load = load;
      n = load.length;
      need = n - gpus;
      solver = MPSolver.createSolver("GLOP");
      solver.objective().setMaximization();
      cover = new MPConstraint[n];
      for (int e = 0; e < n; e++) {
        cover[e] = solver.makeConstraint(1, 1);
      }
      for (int e = 0; e < n; e++) {
        addColumn(new int[] {e});
      }
    }

    @Override
    public void close() {
      solver.delete();
    }

    /** GPUs the set saves at the current L. */
    int value(int[] set) {
      int sum = 0;
      for (int e : set) {
        sum += slack[e];
      }
      int v = Math.min(1, Math.floorDiv(sum, GRID));
      return set.length == 1 ? Math.min(0, v) : v;
    }

    /** Whether {@code prices}, made dual feasible at max load {@code maxLoad}, sum below E - G. */
    boolean proves(double[] prices, double maxLoad) {
      setLoad(maxLoad);
      return provenBy(prices);
    }

    private void setLoad(double maxLoad) {
      slack = new int[n];
      for (int e = 0; e < n; e++) {
        // Rounded up (with a margin for the arithmetic): val only rises, so the LP stays a relaxation.
        slack[e] = Math.min(GRID, (int) Math.ceil((1 - load[e] / maxLoad) * GRID + 1e-7));
      }
    }

    /** Prices that prove max load {@code maxLoad} infeasible, or null when none were found. */
    double[] provingPrices(double maxLoad, long deadlineNanos) {
      setLoad(maxLoad);
      MPObjective objective = solver.objective();
      for (int c = 0; c < columns.size(); c++) {
        objective.setCoefficient(vars.get(c), value(columns.get(c)));
      }
      if (columns.size() == n) {
        for (int[] set : StarCover.greedyGroups(load, maxLoad)) {
          addColumn(set);
        }
      }
      double[] price = new double[n];
      for (int round = 0; round < MAX_ROUNDS && System.nanoTime() < deadlineNanos; round++) {
        if (solver.solve() != MPSolver.ResultStatus.OPTIMAL || objective.value() >= need - 1e-6) {
          // The relaxation reaches E - G: no prices prove this L infeasible.
          return null;
        }
        for (int e = 0; e < n; e++) {
          price[e] = cover[e].dualValue();
        }
        LightPricing pricing = new LightPricing(price);
        List<int[]> found = pricing.violatingSets(COLUMNS_PER_ROUND);
        // Prices short of optimal may prove it already (screened with the sets priced so far).
        if (pricing.couldProve() && provenBy(price)) {
          return price;
        }
        if (found.isEmpty()) {
          break;
        }
        for (int[] set : found) {
          addColumn(set);
        }
      }
      return provenBy(price) ? price : null;
    }

    /** Whether these prices, made dual feasible, sum below E - G. */
    boolean provenBy(double[] price) {
      double sum = 0;
      double shift = 0;
      for (int e = 0; e < n; e++) {
        sum += price[e];
        shift = Math.max(shift, Math.min(0, Math.floorDiv(slack[e], GRID)) - price[e]);
      }
      // Every set of two or more gets at least twice the shift.
      shift = Math.max(shift, 0.5 * largestViolation(price)) + EPS;
      return sum + n * shift < need - (n + 1) * EPS;
    }

    private void addColumn(int[] set) {
      int[] sorted = set.clone();
      Arrays.sort(sorted);
      if (!known.add(Arrays.stream(sorted).boxed().toList())) {
        return;
      }
      MPVariable y = solver.makeNumVar(0, MPSolver.infinity(), "");
      for (int e : sorted) {
        cover[e].setCoefficient(y, 1);
      }
      columns.add(sorted);
      vars.add(y);
      if (slack != null) {
        solver.objective().setCoefficient(y, value(sorted));
      }
    }

    /**
     * max over sets of two or more experts of val(C) - p(C): a knapsack over the slack sum, the
     * experts above L first (negative slack), so the lights after them may cap the sum at 1.
     */
    double largestViolation(double[] price) {
      Integer[] order = byslack();
      int low = 0;
      for (int x : slack) {
        low += Math.min(0, x);
      }
      int size = GRID - low + 1;
      double[] single = new double[size];
      double[] multi = new double[size];
      Arrays.fill(single, INF);
      Arrays.fill(multi, INF);
      for (int e : order) {
        int x = slack[e];
        double p = price[e];
        if (x < 0) {
          for (int y = -x; y < size; y++) {
            multi[y + x] = Math.min(multi[y + x], Math.min(single[y], multi[y]) + p);
          }
        } else {
          for (int y = size - 1; y >= 0; y--) {
            int to = Math.min(size - 1, y + x);
            multi[to] = Math.min(multi[to], Math.min(single[y], multi[y]) + p);
          }
        }
        int own = Math.min(size - 1, x - low);
        single[own] = Math.min(single[own], p);
      }
      double worst = -INF;
      for (int y = 0; y < size; y++) {
        if (multi[y] < INF) {
          worst = Math.max(worst, Math.min(1, Math.floorDiv(y + low, GRID)) - multi[y]);
        }
      }
      return worst;
    }

    private Integer[] byslack() {
      Integer[] order = new Integer[n];
      for (int e = 0; e < n; e++) {
        order[e] = e;
      }
      Arrays.sort(order, (a, b) -> Integer.compare(slack[a], slack[b]));
      return order;
    }

    /**
     * Pricing with at most one expert above L: for each light, the cheapest closed set it is the
     * largest slack of; for each expert above L and each value, the cheapest lights that reach it.
     * A knapsack over the lights' slack sum, capped at the largest need, kept per item to trace sets.
     */
    final class LightPricing {
      private final double[] price;
      private final int[] lights;
      private final int cap;
      private final double[] best;
      /** from[i][y]: light i improved best[y]: 1 extending a set, 2 alone. */
      private final byte[][] from;
      private final int[] prevAtCap;
      /** A violated set: {@code extra} plus the lights before {@code end} behind best[sum]. */
      private record Found(double violation, int end, int sum, int extra) {}

      private final List<Found> found = new ArrayList<>();

      LightPricing(double[] price) {
        this.price = price;
        Integer[] order = byslack();
        int heavies = 0;
        int maxNeed = GRID;
        for (int e = 0; e < n; e++) {
          if (slack[e] < 0) {
            heavies++;
            maxNeed = Math.max(maxNeed, GRID - slack[e]);
          }
        }
        lights = new int[n - heavies];
        for (int i = 0; i < lights.length; i++) {
          lights[i] = order[heavies + i];
        }
        cap = maxNeed;
        best = new double[cap + 1];
        Arrays.fill(best, INF);
        from = new byte[lights.length][cap + 1];
        prevAtCap = new int[lights.length];
        for (int i = 0; i < lights.length; i++) {
          int e = lights[i];
          int x = slack[e];
          // The cheapest set of lights before this one whose slack reaches 1 - x.
          int bestY = cheapestFrom(GRID - x);
          if (bestY >= 0 && 1 - price[e] - best[bestY] > 1e-7) {
            found.add(new Found(1 - price[e] - best[bestY], i, bestY, e));
          }
          for (int y = cap; y >= 0; y--) {
            if (best[y] < INF) {
              int to = Math.min(cap, y + x);
              if (best[y] + price[e] < best[to]) {
                best[to] = best[y] + price[e];
                from[i][to] = 1;
                if (to == cap) {
                  prevAtCap[i] = y;
                }
              }
            }
          }
          if (price[e] < best[x]) {
            best[x] = price[e];
            from[i][x] = 2;
          }
        }
        // suffix[y]: where the cheapest set of lights with slack sum >= y ends.
        int[] suffix = new int[cap + 2];
        suffix[cap + 1] = -1;
        for (int y = cap; y >= 0; y--) {
          int next = suffix[y + 1];
          suffix[y] = best[y] < INF && (next < 0 || best[y] < best[next]) ? y : next;
        }
        for (int h = 0; h < heavies; h++) {
          int e = order[h];
          for (int v = 1; v > Math.floorDiv(slack[e], GRID); v--) {
            int y = suffix[Math.min(cap, v * GRID - slack[e])];
            if (y >= 0 && v - price[e] - best[y] > 1e-7) {
              found.add(new Found(v - price[e] - best[y], lights.length, y, e));
            }
          }
        }
      }

      /** Where the cheapest set of lights so far with slack sum at least {@code from} ends, or -1. */
      private int cheapestFrom(int fromSum) {
        int at = -1;
        for (int y = Math.max(0, fromSum); y <= cap; y++) {
          if (best[y] < INF && (at < 0 || best[y] < best[at])) {
            at = y;
          }
        }
        return at;
      }

      /** Whether these prices, raised by what covers the violations seen, sum below E - G. */
      boolean couldProve() {
        double sum = 0;
        for (double p : price) {
          sum += p;
        }
        double worst = 0;
        for (Found f : found) {
          worst = Math.max(worst, f.violation());
        }
        return sum + n * 0.5 * worst < need - (n + 1) * EPS;
      }

      /** The most violated sets found, at most {@code limit}. */
      List<int[]> violatingSets(int limit) {
        found.sort((a, b) -> Double.compare(b.violation(), a.violation()));
        List<int[]> sets = new ArrayList<>();
        for (Found f : found.subList(0, Math.min(limit, found.size()))) {
          sets.add(trace(f.end(), f.sum(), f.extra()));
        }
        return sets;
      }

      /** The lights before item {@code end} behind best[y], plus {@code extra}. */
      private int[] trace(int end, int y, int extra) {
        List<Integer> set = new ArrayList<>();
        set.add(extra);
        int i = end;
        while (true) {
          do {
            i--;
          } while (from[i][y] == 0);
          int e = lights[i];
          set.add(e);
          if (from[i][y] == 2) {
            return set.stream().mapToInt(Integer::intValue).toArray();
          }
          y = y == cap ? prevAtCap[i] : y - slack[e];
        }
      }
    }
  }
}

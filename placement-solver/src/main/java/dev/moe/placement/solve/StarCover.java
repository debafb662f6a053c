package dev.moe.placement.solve;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A construction for two slots per GPU, where a placement is a multigraph (experts are vertices,
 * each GPU an edge between its two slots' experts).
 *
 * <p>With slack x_e = 1 - w_e / L, a connected group C of experts fits on |C| - v GPUs at max load
 * L, v = min(1, floor(x(C))) (at most 0 for a lone expert): a star, its heaviest expert in the
 * middle on every GPU of the group, realizes it when the others weigh at most L, and a chain of
 * stars when several weigh more. Every placement's components obey the same count, so L is
 * feasible exactly when the experts split into groups whose values v sum to E - G: a bin covering
 * problem where "closing" a group (x(C) >= 1) saves a GPU.
 *
 * <p>Construction: greedy partitions (covering the experts above L with the fewest lights, then
 * the lights' needs 1 - x with one or two smaller slacks; or pairing by best fit and feeding the
 * experts above L with the rest), merging groups where that saves a GPU, and a bisection on L; then
 * {@link CoverSearch} from the greedy's best L downwards, each cover found the start of the next.
 */
final class StarCover {

  /** Relative precision of the bisection on L. */
  private static final double PRECISION = 1e-4;

  private static final int STRATEGIES = 3;

  /** The cover search's first step down in L, relative, and its repair rounds per L tried. */
  private static final double FIRST_STEP = 0.005;

  private static final int SEARCH_ROUNDS = 3000;

  /** Slack tolerance (in units of L) for a group to count as closed. */
  private static final double TOL = 1e-9;

  private StarCover() {}

  /**
   * The slot map of the best star cover, or null when the layer has fewer GPUs than needed: the
   * greedy's, improved by {@link CoverSearch} until {@code deadlineNanos}.
   */
  static int[] place(double[] load, int gpus, double lowerBound, double upperBound, long seed, long deadlineNanos) {
    if (lowerBound <= 0) {
      return null;
    }
    int[] first = build(load, gpus, upperBound);
    if (first == null) {
      // The greedy need not cover at another placement's max load; at the whole layer's load it does.
      upperBound = Math.max(upperBound, Arrays.stream(load).sum());
      first = build(load, gpus, upperBound);
    }
    if (first == null) {
      return null;
    }
    Cover greedy = bisect(load, gpus, lowerBound, new Cover(first, upperBound));
    return descend(load, gpus, lowerBound, greedy, seed, deadlineNanos).map();
  }

  /**
   * Covers a step lower in L each, the last one found as the start, the step halved where none is
   * found within the search's rounds.
   */
  private static Cover descend(double[] load, int gpus, double lowerBound, Cover best, long seed, long deadlineNanos) {
    int bins = load.length - gpus;
    int[] groups = null;
    double step = FIRST_STEP;
    for (int attempt = 0; System.nanoTime() < deadlineNanos && step > PRECISION && best.maxLoad() > lowerBound;
        attempt++) {
      double maxLoad = groups == null ? best.maxLoad() : Math.max(lowerBound, best.maxLoad() * (1 - step));
      Partition partition = new Partition(load, maxLoad);
      int[] found = CoverSearch.cover(partition.slack, bins, groups, seed + attempt, SEARCH_ROUNDS, deadlineNanos);
      int[] map = found == null ? null : partition.with(found).toSlots(gpus);
      if (map != null) {
        best = new Cover(map, maxLoad);
        groups = found;
      } else if (groups == null || maxLoad == lowerBound) {
        return best;
      } else {
        step /= 2;
      }
    }
    return best;
  }

  /** A slot map and the max load it was built for. */
  private record Cover(int[] map, double maxLoad) {}

  /** Bisects L in (lo, best.maxLoad], keeping the lowest greedy cover built. */
  private static Cover bisect(double[] load, int gpus, double lo, Cover best) {
    while (best.maxLoad() - lo > PRECISION * best.maxLoad()) {
      double mid = 0.5 * (lo + best.maxLoad());
      int[] map = build(load, gpus, mid);
      if (map != null) {
        best = new Cover(map, mid);
      } else {
        lo = mid;
      }
    }
    return best;
  }

  /** A greedy star cover at max load {@code maxLoad}, or null when none was found within {@code gpus}. */
  static int[] build(double[] load, int gpus, double maxLoad) {
    int need = load.length - gpus;
    for (int strategy = 0; strategy < STRATEGIES; strategy++) {
      Partition partition = greedy(load, maxLoad, strategy);
      if (partition.closed() >= need) {
        int[] map = partition.toSlots(gpus);
        if (map != null) {
          return map;
        }
      }
    }
    return null;
  }

  /** The groups of every greedy partition at {@code maxLoad}: starting columns for {@link ComponentLpBound}. */
  static List<int[]> greedyGroups(double[] load, double maxLoad) {
    List<int[]> all = new ArrayList<>();
    for (int strategy = 0; strategy < STRATEGIES; strategy++) {
      all.addAll(greedy(load, maxLoad, strategy).groups());
    }
    return all;
  }

  /** Partition {@code strategy}: covering by count (heaviest first or last), or by slack. */
  private static Partition greedy(double[] load, double maxLoad, int strategy) {
    Partition partition = new Partition(load, maxLoad);
    if (strategy < 2) {
      partition.coverByCount(strategy == 0);
    } else {
      partition.coverBySlack();
    }
    partition.mergeGroups();
    return partition;
  }

  /** Experts split into groups; each group's slack sum decides the GPUs it saves. */
  private static final class Partition {
    final double[] load;
    final double maxLoad;
    final int n;
    final double[] slack;
    final int[] group;
    final double[] groupSlack;
    final int[] groupSize;
    int groups;

    Partition(double[] load, double maxLoad) {
      this.load = load;
      this.maxLoad = maxLoad;
      n = load.length;
      slack = new double[n];
      for (int e = 0; e < n; e++) {
        slack[e] = 1 - load[e] / maxLoad;
      }
      group = new int[n];
      groupSlack = new double[n];
      groupSize = new int[n];
    }

    /** This partition's experts grouped as {@code groups} says. */
    Partition with(int[] groups) {
      for (int e = 0; e < n; e++) {
        join(groups[e], e);
        this.groups = Math.max(this.groups, groups[e] + 1);
      }
      return this;
    }

    /** GPUs a group of {@code size} experts with slack sum {@code sum} saves. */
    static double value(double sum, int size) {
      if (size == 0) {
        return 0;
      }
      double v = Math.min(1, Math.floor(sum + TOL));
      // A lone light expert still needs a GPU of its own.
      return size == 1 && sum >= 0 ? Math.min(0, v) : v;
    }

    int closed() {
      double v = 0;
      for (int g = 0; g < groups; g++) {
        v += value(groupSlack[g], groupSize[g]);
      }
      return (int) Math.round(v);
    }

    private int newGroup(int... members) {
      int g = groups++;
      for (int e : members) {
        join(g, e);
      }
      return g;
    }

    private void join(int g, int e) {
      group[e] = g;
      groupSlack[g] += slack[e];
      groupSize[g]++;
    }

    private void leave(int g, int e) {
      groupSlack[g] -= slack[e];
      groupSize[g]--;
    }

    /**
     * Fewest experts first: each expert above L takes the fewest lights that close it (or a part
     * of it, if that saves more), each pick lowered to the smallest free slack that still does,
     * keeping the big slacks for the rest; the lights then cover each other.
     */
    void coverByCount(boolean heaviestFirst) {
      List<Integer> lights = new ArrayList<>();
      List<Integer> heavies = new ArrayList<>();
      for (int e = 0; e < n; e++) {
        (slack[e] < 0 ? heavies : lights).add(e);
      }
      lights.sort((a, b) -> Double.compare(slack[b], slack[a]));
      heavies.sort((a, b) -> heaviestFirst
          ? Double.compare(slack[a], slack[b]) : Double.compare(slack[b], slack[a]));
      int m = lights.size();
      double[] lx = new double[m];
      for (int i = 0; i < m; i++) {
        lx[i] = slack[lights.get(i)];
      }
      boolean[] used = new boolean[m];
      for (int h : heavies) {
        int g = newGroup(h);
        double need = -slack[h];
        // Leaving j GPUs of its own (self-loops) lowers the need to 1 - x_h - j; a light costs 1/2.
        int loops = (int) Math.ceil(1 + need - TOL);
        double bestGain = 1 - loops;
        int bestLoops = loops;
        int bestCount = 0;
        for (int j = 0; j < loops; j++) {
          double target = 1 + need - j;
          double sum = 0;
          int count = 0;
          for (int i = 0; i < m && sum < target - TOL; i++) {
            if (!used[i]) {
              sum += lx[i];
              count++;
            }
          }
          double gain = 1 - j - count / 2.0;
          if (sum >= target - TOL && gain > bestGain + TOL) {
            bestGain = gain;
            bestLoops = j;
            bestCount = count;
          }
        }
        if (bestCount == 0) {
          continue;
        }
        double target = 1 + need - bestLoops;
        int[] pick = new int[bestCount];
        double sum = 0;
        for (int i = 0, k = 0; k < bestCount; i++) {
          if (!used[i]) {
            pick[k++] = i;
            sum += lx[i];
          }
        }
        for (int p = 0; p < bestCount; p++) {
          int cur = pick[p];
          for (int i = m - 1; i > cur; i--) {
            if (!used[i] && !contains(pick, i) && lx[i] >= lx[cur] - (sum - target) - TOL) {
              sum += lx[i] - lx[cur];
              pick[p] = i;
              break;
            }
          }
        }
        for (int i : pick) {
          used[i] = true;
          join(g, lights.get(i));
        }
      }
      List<Integer> rest = new ArrayList<>();
      for (int i = m - 1; i >= 0; i--) {
        if (!used[i]) {
          rest.add(lights.get(i));
        }
      }
      coverLights(rest);
    }

    private static boolean contains(int[] values, int v) {
      for (int u : values) {
        if (u == v) {
          return true;
        }
      }
      return false;
    }

    /**
     * Light groups as covering: a big slack b >= 1/2 leaves a need 1 - b that one or two small
     * slacks meet; bigs left over pair up (any two close). Covering the k largest bigs is tried
     * greedily, largest need first (the smallest single small that meets it, else the cheapest two),
     * and the largest k that works is kept.
     */
    private void coverLights(List<Integer> ascending) {
      List<Integer> smalls = new ArrayList<>();
      List<Integer> bigs = new ArrayList<>();
      for (int e : ascending) {
        (slack[e] < 0.5 ? smalls : bigs).add(e);
      }
      int lo = 0;
      int hi = Math.min(bigs.size(), smalls.size());
      int[][] plan = new int[0][];
      while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        int[][] tried = coverBigs(smalls, bigs, mid);
        if (tried != null) {
          lo = mid;
          plan = tried;
        } else {
          hi = mid - 1;
        }
      }
      boolean[] usedSmall = new boolean[smalls.size()];
      for (int[] cover : plan) {
        int g = newGroup(bigs.get(cover[0]));
        for (int i = 1; i < cover.length; i++) {
          join(g, smalls.get(cover[i]));
          usedSmall[cover[i]] = true;
        }
      }
      List<Integer> rest = new ArrayList<>(bigs.subList(0, bigs.size() - plan.length));
      for (int i = 0; i < smalls.size(); i++) {
        if (!usedSmall[i]) {
          rest.add(smalls.get(i));
        }
      }
      rest.sort((a, b) -> Double.compare(slack[a], slack[b]));
      groupFromBothEnds(rest);
    }

    /** Covers of the k largest bigs, {big index, small indices...} each, or null. */
    private int[][] coverBigs(List<Integer> smalls, List<Integer> bigs, int k) {
      int ns = smalls.size();
      double[] sx = new double[ns];
      for (int i = 0; i < ns; i++) {
        sx[i] = slack[smalls.get(i)];
      }
      boolean[] used = new boolean[ns];
      int[][] plan = new int[k][];
      int nb = bigs.size();
      for (int q = 0; q < k; q++) {
        int big = nb - k + q;
        double need = 1 - slack[bigs.get(big)];
        int single = -1;
        for (int i = 0; i < ns && single < 0; i++) {
          if (!used[i] && sx[i] >= need - TOL) {
            single = i;
          }
        }
        if (single >= 0) {
          used[single] = true;
          plan[q] = new int[] {big, single};
          continue;
        }
        // Cheapest two: for each larger small, the smallest partner that completes the need.
        int bestA = -1;
        int bestB = -1;
        double bestSum = Double.MAX_VALUE;
        int b = 0;
        for (int a = ns - 1; a >= 0; a--) {
          if (used[a]) {
            continue;
          }
          while (b < a && (used[b] || sx[a] + sx[b] < need - TOL)) {
            b++;
          }
          if (b >= a) {
            break;
          }
          if (sx[a] + sx[b] < bestSum) {
            bestSum = sx[a] + sx[b];
            bestA = a;
            bestB = b;
          }
        }
        if (bestA < 0) {
          return null;
        }
        used[bestA] = true;
        used[bestB] = true;
        plan[q] = new int[] {big, bestA, bestB};
      }
      return plan;
    }

    /**
     * The most groups of the form "the t smallest left with the largest left" (t = 1..3), by an
     * interval DP over the ascending slacks; once the two smallest close, all the rest pair up.
     */
    private void groupFromBothEnds(List<Integer> ascending) {
      int m = ascending.size();
      double[] a = new double[m];
      for (int i = 0; i < m; i++) {
        a[i] = slack[ascending.get(i)];
      }
      // best[i][j]: most groups from items i..j; move: -1 pair all, 0 drop i, 1 drop j, t+1: t smallest + j
      int[][] best = new int[m + 1][m + 1];
      byte[][] move = new byte[m + 1][m + 1];
      for (int len = 1; len <= m; len++) {
        for (int i = 0; i + len - 1 < m; i++) {
          int j = i + len - 1;
          if (len >= 2 && a[i] + a[i + 1] >= 1 - TOL) {
            best[i][j] = len / 2;
            move[i][j] = -1;
            continue;
          }
          int value = best[i + 1][j];
          byte choice = 0;
          if (j > i && best[i][j - 1] > value) {
            value = best[i][j - 1];
            choice = 1;
          }
          double sum = a[j];
          for (int t = 1; t <= 3 && i + t - 1 < j; t++) {
            sum += a[i + t - 1];
            if (sum >= 1 - TOL) {
              int v = 1 + (i + t <= j - 1 ? best[i + t][j - 1] : 0);
              if (v > value) {
                value = v;
                choice = (byte) (t + 1);
              }
              break;
            }
          }
          best[i][j] = value;
          move[i][j] = choice;
        }
      }
      List<Integer> left = new ArrayList<>();
      int i = 0;
      int j = m - 1;
      while (i <= j) {
        byte choice = move[i][j];
        if (choice == -1) {
          for (int k = i; k + 1 <= j; k += 2) {
            newGroup(ascending.get(k), ascending.get(k + 1));
          }
          if ((j - i + 1) % 2 == 1) {
            left.add(ascending.get(j));
          }
          break;
        } else if (choice == 0) {
          left.add(ascending.get(i++));
        } else if (choice == 1) {
          left.add(ascending.get(j--));
        } else {
          int g = newGroup(ascending.get(j--));
          for (int k = 0; k < choice - 1; k++) {
            join(g, ascending.get(i++));
          }
        }
      }
      attach(left);
    }

    /** Experts left over join the group they help most (a light never hurts a group). */
    private void attach(List<Integer> left) {
      for (int e : left) {
        int best = -1;
        double gain = -1;
        for (int g = 0; g < groups; g++) {
          if (groupSize[g] == 0) {
            continue;
          }
          double d = value(groupSlack[g] + slack[e], groupSize[g] + 1) - value(groupSlack[g], groupSize[g]);
          if (d > gain) {
            gain = d;
            best = g;
          }
        }
        if (best < 0) {
          newGroup(e);
        } else {
          join(best, e);
        }
      }
    }

    /**
     * Least overshoot first: each small slack takes the smallest big one that closes it, the
     * experts above L get what is left (the largest first, then the best closing one), pairs with
     * the most overshoot broken up when they run short.
     */
    void coverBySlack() {
      List<Integer> smalls = new ArrayList<>();
      List<Integer> bigs = new ArrayList<>();
      List<Integer> heavies = new ArrayList<>();
      for (int e = 0; e < n; e++) {
        (slack[e] < 0 ? heavies : slack[e] < 0.5 ? smalls : bigs).add(e);
      }
      smalls.sort((a, b) -> Double.compare(slack[a], slack[b]));
      bigs.sort((a, b) -> Double.compare(slack[a], slack[b]));
      heavies.sort((a, b) -> Double.compare(slack[a], slack[b]));
      int nb = bigs.size();
      double[] bx = new double[nb];
      for (int i = 0; i < nb; i++) {
        bx[i] = slack[bigs.get(i)];
      }
      // next[i]: the first unused big at or after i (path-compressed).
      int[] next = new int[nb + 1];
      for (int i = 0; i <= nb; i++) {
        next[i] = i;
      }
      List<Integer> sink = new ArrayList<>();
      double sinkSlack = 0;
      List<int[]> pairs = new ArrayList<>();
      for (int a : smalls) {
        int j = firstUnused(next, firstAtLeast(bx, 1 - slack[a] - TOL));
        if (j < nb) {
          next[j] = j + 1;
          pairs.add(new int[] {a, bigs.get(j)});
        } else {
          sink.add(a);
          sinkSlack += slack[a];
        }
      }
      double need = 0;
      for (int h : heavies) {
        need -= slack[h] - 1;
      }
      List<Integer> rest = new ArrayList<>();
      for (int j = 0; j < nb; j++) {
        if (firstUnused(next, j) == j) {
          rest.add(bigs.get(j));
        }
      }
      int top = rest.size();
      while (top > 0 && sinkSlack < need) {
        int e = rest.get(--top);
        sink.add(e);
        sinkSlack += slack[e];
      }
      if (top % 2 == 1) {
        int e = rest.get(--top);
        sink.add(e);
        sinkSlack += slack[e];
      }
      for (int i = 0; i + 1 < top; i += 2) {
        pairs.add(new int[] {rest.get(i), rest.get(i + 1)});
      }
      pairs.sort((p, q) -> Double.compare(slack[q[0]] + slack[q[1]], slack[p[0]] + slack[p[1]]));
      int broken = 0;
      while (sinkSlack < need && broken < pairs.size()) {
        int[] p = pairs.get(broken++);
        sink.add(p[0]);
        sink.add(p[1]);
        sinkSlack += slack[p[0]] + slack[p[1]];
      }
      for (int i = broken; i < pairs.size(); i++) {
        newGroup(pairs.get(i));
      }
      sink.sort((a, b) -> Double.compare(slack[b], slack[a]));
      boolean[] used = new boolean[n];
      for (int h : heavies) {
        int g = newGroup(h);
        double open = 1 - slack[h];
        while (open > TOL) {
          int pick = -1;
          for (int e : sink) {
            if (!used[e] && slack[e] >= open - TOL && (pick < 0 || slack[e] < slack[pick])) {
              pick = e;
            }
          }
          for (int i = 0; pick < 0 && i < sink.size(); i++) {
            if (!used[sink.get(i)]) {
              pick = sink.get(i);
            }
          }
          if (pick < 0) {
            break;
          }
          used[pick] = true;
          join(g, pick);
          open -= slack[pick];
        }
      }
      for (int e : sink) {
        if (!used[e]) {
          newGroup(e);
        }
      }
    }

    private static int firstUnused(int[] next, int i) {
      while (next[i] != i) {
        next[i] = next[next[i]];
        i = next[i];
      }
      return i;
    }

    private static int firstAtLeast(double[] ascending, double v) {
      int i = Arrays.binarySearch(ascending, v);
      if (i < 0) {
        return -i - 1;
      }
      while (i > 0 && ascending[i - 1] >= v) {
        i--;
      }
      return i;
    }

    /**
     * Merges two groups while that saves a GPU: an open group's missing slack can come from
     * another's overshoot, and two experts above L can share the GPU that links them.
     */
    void mergeGroups() {
      boolean merged = true;
      while (merged) {
        merged = false;
        for (int a = 0; a < groups && !merged; a++) {
          if (groupSize[a] == 0 || groupSlack[a] >= 1 - TOL) {
            continue;
          }
          for (int b = 0; b < groups && !merged; b++) {
            if (b == a || groupSize[b] == 0) {
              continue;
            }
            double together = value(groupSlack[a] + groupSlack[b], groupSize[a] + groupSize[b]);
            if (together > value(groupSlack[a], groupSize[a]) + value(groupSlack[b], groupSize[b]) + TOL) {
              for (int e = 0; e < n; e++) {
                if (group[e] == b) {
                  leave(b, e);
                  join(a, e);
                }
              }
              merged = true;
            }
          }
        }
      }
    }

    /** The members of each non-empty group. */
    List<int[]> groups() {
      List<List<Integer>> members = members();
      List<int[]> sets = new ArrayList<>();
      for (List<Integer> m : members) {
        sets.add(m.stream().mapToInt(Integer::intValue).toArray());
      }
      return sets;
    }

    private List<List<Integer>> members() {
      List<List<Integer>> members = new ArrayList<>();
      for (int g = 0; g < groups; g++) {
        members.add(new ArrayList<>());
      }
      for (int e = 0; e < n; e++) {
        members.get(group[e]).add(e);
      }
      members.removeIf(List::isEmpty);
      return members;
    }

    /** The GPUs of every group, spare GPUs as self-loops; null when more than {@code gpus}. */
    int[] toSlots(int gpus) {
      List<List<Integer>> members = members();
      int k = members.size();
      List<int[]> edges = new ArrayList<>();
      int[] start = new int[k + 1];
      for (int i = 0; i < k; i++) {
        start[i] = edges.size();
        realize(members.get(i), edges);
        if (edges.size() > gpus) {
          return null;
        }
      }
      start[k] = edges.size();
      // Spare GPUs go, one at a time, to the group with the highest load per GPU.
      int[] extra = new int[k];
      double[] weight = new double[k];
      int[] centre = new int[k];
      for (int i = 0; i < k; i++) {
        int c = -1;
        for (int e : members.get(i)) {
          weight[i] += load[e];
          if (c < 0 || load[e] > load[c]) {
            c = e;
          }
        }
        centre[i] = c;
      }
      for (int s = edges.size(); s < gpus; s++) {
        int best = 0;
        double bestLoad = -1;
        for (int i = 0; i < k; i++) {
          double perGpu = weight[i] / (start[i + 1] - start[i] + extra[i]);
          if (perGpu > bestLoad) {
            bestLoad = perGpu;
            best = i;
          }
        }
        extra[best]++;
      }
      int[] map = new int[2 * gpus];
      int gpu = 0;
      for (int i = 0; i < k; i++) {
        for (int j = start[i]; j < start[i + 1]; j++) {
          map[2 * gpu] = edges.get(j)[0];
          map[2 * gpu + 1] = edges.get(j)[1];
          gpu++;
        }
        for (int s = 0; s < extra[i]; s++) {
          map[2 * gpu] = centre[i];
          map[2 * gpu + 1] = centre[i];
          gpu++;
        }
      }
      return map;
    }

    /**
     * A star around the heaviest light expert, or a chain of stars around the experts above L:
     * each takes leaves until what it still carries fits on one GPU shared with the next, the
     * last one self-loops for the rest.
     */
    private void realize(List<Integer> members, List<int[]> edges) {
      List<Integer> heavy = new ArrayList<>();
      List<Integer> light = new ArrayList<>();
      for (int e : members) {
        (slack[e] < 0 ? heavy : light).add(e);
      }
      if (heavy.isEmpty()) {
        int c = light.get(0);
        for (int e : light) {
          if (slack[e] < slack[c]) {
            c = e;
          }
        }
        double room = 0;
        for (int e : light) {
          if (e != c) {
            edges.add(new int[] {c, e});
            room += maxLoad - load[e];
          }
        }
        int loops = light.size() == 1 ? Math.max(1, loopsFor(load[c])) : loopsFor(load[c] - room);
        for (int s = 0; s < loops; s++) {
          edges.add(new int[] {c, c});
        }
        return;
      }
      heavy.sort((a, b) -> Double.compare(slack[a], slack[b]));
      int next = 0;
      double fromLink = 0;
      for (int j = 0; j < heavy.size(); j++) {
        int h = heavy.get(j);
        boolean last = j == heavy.size() - 1;
        double rest = load[h] - fromLink;
        while (next < light.size() && (last || rest > maxLoad * (1 + TOL))) {
          int e = light.get(next++);
          edges.add(new int[] {h, e});
          rest -= maxLoad - load[e];
        }
        int loops = last ? loopsFor(rest) : loopsFor(rest - maxLoad);
        if (!last) {
          double onLink = Math.max(0, rest - loops * maxLoad);
          fromLink = maxLoad - onLink;
          edges.add(new int[] {h, heavy.get(j + 1)});
        }
        for (int s = 0; s < loops; s++) {
          edges.add(new int[] {h, h});
        }
      }
    }

    private int loopsFor(double rest) {
      return rest > TOL * maxLoad ? (int) Math.ceil(rest / maxLoad - TOL) : 0;
    }
  }
}

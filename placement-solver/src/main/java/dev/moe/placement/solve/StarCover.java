package dev.moe.placement.solve;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.TreeMap;

/** Prototype v1. */
final class StarCover {

  private static final double EPS = 1e-12;

  private StarCover() {}

  static int[] place(double[] load, int gpus, double lowerBound, double upperBound) {
    if (lowerBound <= 0) {
      return null;
    }
    double lo = lowerBound;
    double hi = upperBound;
    int[] best = build(load, gpus, hi);
    if (best == null) {
      return null;
    }
    int[] first = build(load, gpus, lo);
    if (first != null) {
      return first;
    }
    for (int iter = 0; iter < 40 && hi - lo > 1e-7 * hi; iter++) {
      double mid = 0.5 * (lo + hi);
      int[] map = build(load, gpus, mid);
      if (map != null) {
        best = map;
        hi = mid;
      } else {
        lo = mid;
      }
    }
    return best;
  }

  static boolean DEBUG = false;
  static int[] build(double[] load, int gpus, double maxLoad) {
    Cover cover = new Cover(load, maxLoad);
    cover.partition();
    if (DEBUG) cover.debug(gpus);
    return cover.toSlots(gpus);
  }

  /** Multiset of experts keyed by slack. */
  private static final class Pool {
    final TreeMap<Double, ArrayDeque<Integer>> map = new TreeMap<>();
    final double[] x;
    double sum;
    int size;

    Pool(double[] x) {
      this.x = x;
    }

    void add(int e) {
      map.computeIfAbsent(x[e], k -> new ArrayDeque<>()).add(e);
      sum += x[e];
      size++;
    }

    int take(double key) {
      ArrayDeque<Integer> q = map.get(key);
      int e = q.poll();
      if (q.isEmpty()) {
        map.remove(key);
      }
      sum -= x[e];
      size--;
      return e;
    }

    /** Smallest slack >= need, else the largest. */
    int takeClosing(double need) {
      Double k = map.ceilingKey(need - EPS);
      return take(k != null ? k : map.lastKey());
    }

    int takeSmallest() {
      return take(map.firstKey());
    }
  }

  private static final class Cover {
    final double[] load;
    final double L;
    final double[] x;
    final List<List<Integer>> groups = new ArrayList<>();
    int chain = -1;

    Cover(double[] load, double maxLoad) {
      this.load = load;
      this.L = maxLoad;
      x = new double[load.length];
      for (int e = 0; e < load.length; e++) {
        x[e] = 1 - load[e] / maxLoad;
      }
    }

    void partition() {
      int n = load.length;
      List<Integer> smalls = new ArrayList<>();
      List<Integer> bigs = new ArrayList<>();
      List<Integer> heavies = new ArrayList<>();
      for (int e = 0; e < n; e++) {
        if (x[e] < 0) {
          heavies.add(e);
        } else if (x[e] < 0.5) {
          smalls.add(e);
        } else {
          bigs.add(e);
        }
      }
      smalls.sort((a, b) -> Double.compare(x[a], x[b]));
      bigs.sort((a, b) -> Double.compare(x[a], x[b]));
      heavies.sort((a, b) -> Double.compare(x[a], x[b]));
      int nb = bigs.size();
      double[] bx = new double[nb];
      for (int i = 0; i < nb; i++) {
        bx[i] = x[bigs.get(i)];
      }
      int[] next = new int[nb + 1];
      for (int i = 0; i <= nb; i++) {
        next[i] = i;
      }
      Pool pool = new Pool(x);
      List<int[]> pairs = new ArrayList<>();
      for (int a : smalls) {
        int j = find(next, lowerBound(bx, 1 - x[a] - EPS));
        if (j < nb) {
          next[j] = j + 1;
          pairs.add(new int[] {a, bigs.get(j)});
        } else {
          pool.add(a);
        }
      }
      for (int j = 0; j < nb; j++) {
        if (find(next, j) == j) {
          pool.add(bigs.get(j));
        }
      }
      double need = 0;
      for (int h : heavies) {
        need -= x[h] - 1;
      }
      pairs.sort((p, q) -> Double.compare(x[q[0]] + x[q[1]], x[p[0]] + x[p[1]]));
      int broken = 0;
      while (pool.sum < need && broken < pairs.size()) {
        int[] p = pairs.get(broken++);
        pool.add(p[0]);
        pool.add(p[1]);
      }
      for (int i = broken; i < pairs.size(); i++) {
        groups.add(new ArrayList<>(List.of(pairs.get(i)[0], pairs.get(i)[1])));
      }
      for (int k = 0; k < heavies.size(); k++) {
        int h = heavies.get(k);
        List<Integer> g = new ArrayList<>();
        g.add(h);
        double rest = 1 - x[h];
        while (rest > EPS && pool.size > 0) {
          int e = pool.takeClosing(rest);
          g.add(e);
          rest -= x[e];
        }
        groups.add(g);
        if (rest > EPS) {
          g.addAll(heavies.subList(k + 1, heavies.size()));
          chain = groups.size() - 1;
          break;
        }
      }
      while (pool.size > 0) {
        int c = pool.takeSmallest();
        List<Integer> g = new ArrayList<>();
        g.add(c);
        double rest = 1 - x[c];
        while (rest > EPS && pool.size > 0) {
          int e = pool.takeClosing(rest);
          g.add(e);
          rest -= x[e];
        }
        if (rest > EPS && !groups.isEmpty()) {
          groups.get(chain >= 0 ? chain : groups.size() - 1).addAll(g);
        } else {
          groups.add(g);
        }
      }
    }

    void debug(int gpus) {
      double X = 0; for (double v : x) X += v;
      System.out.printf("L=%.6g budget(X-(E-G))=%.3f%n", L, X - (x.length - gpus));
      double[] waste = new double[4]; int[] cnt = new int[4];
      for (List<Integer> g : groups) {
        double s = 0; boolean hv = false; for (int e : g) { s += x[e]; hv |= x[e] < 0; }
        int type = hv ? (g.size() > 1 && s < 1 - 1e-9 ? 3 : 2) : g.size() == 2 ? 0 : 1;
        double val = Math.min(1, Math.floor(s + 1e-12));
        waste[type] += s - val; cnt[type]++;
      }
      System.out.printf("  pairs %d waste %.3f | other light %d waste %.3f | heavy closed %d waste %.3f | chain %d waste %.3f%n",
        cnt[0], waste[0], cnt[1], waste[1], cnt[2], waste[2], cnt[3], waste[3]);
    }

    private static int find(int[] next, int i) {
      while (next[i] != i) {
        next[i] = next[next[i]];
        i = next[i];
      }
      return i;
    }

    private static int lowerBound(double[] a, double v) {
      int lo = 0;
      int hi = a.length;
      while (lo < hi) {
        int mid = (lo + hi) >>> 1;
        if (a[mid] < v) {
          lo = mid + 1;
        } else {
          hi = mid;
        }
      }
      return lo;
    }

    /** GPUs as (expert, expert) edges, or null when more than {@code gpus} are needed. */
    int[] toSlots(int gpus) {
      List<int[]> edges = new ArrayList<>();
      int[] groupOfEdgeStart = new int[groups.size() + 1];
      for (int i = 0; i < groups.size(); i++) {
        groupOfEdgeStart[i] = edges.size();
        realize(groups.get(i), edges);
        if (edges.size() > gpus) {
          return null;
        }
      }
      groupOfEdgeStart[groups.size()] = edges.size();
      int spare = gpus - edges.size();
      // Spare GPUs: self-loops on the centre of the group with the highest load per GPU.
      int[] extra = new int[groups.size()];
      double[] weight = new double[groups.size()];
      int[] centre = new int[groups.size()];
      for (int i = 0; i < groups.size(); i++) {
        int c = -1;
        for (int e : groups.get(i)) {
          weight[i] += load[e];
          if (c < 0 || load[e] > load[c]) {
            c = e;
          }
        }
        centre[i] = c;
      }
      for (int k = 0; k < spare; k++) {
        int best = 0;
        double bestLoad = -1;
        for (int i = 0; i < groups.size(); i++) {
          double per = weight[i] / (groupOfEdgeStart[i + 1] - groupOfEdgeStart[i] + extra[i]);
          if (per > bestLoad) {
            bestLoad = per;
            best = i;
          }
        }
        extra[best]++;
      }
      int[] map = new int[2 * gpus];
      int gpu = 0;
      for (int i = 0; i < groups.size(); i++) {
        for (int j = groupOfEdgeStart[i]; j < groupOfEdgeStart[i + 1]; j++) {
          map[2 * gpu] = edges.get(j)[0];
          map[2 * gpu + 1] = edges.get(j)[1];
          gpu++;
        }
        for (int k = 0; k < extra[i]; k++) {
          map[2 * gpu] = centre[i];
          map[2 * gpu + 1] = centre[i];
          gpu++;
        }
      }
      return map;
    }

    /** A star (no expert above L) or a chain of stars around the experts above L. */
    void realize(List<Integer> group, List<int[]> edges) {
      List<Integer> heavy = new ArrayList<>();
      List<Integer> light = new ArrayList<>();
      for (int e : group) {
        (x[e] < 0 ? heavy : light).add(e);
      }
      if (heavy.isEmpty()) {
        int c = light.get(0);
        for (int e : light) {
          if (x[e] < x[c]) {
            c = e;
          }
        }
        double cap = 0;
        for (int e : light) {
          if (e != c) {
            edges.add(new int[] {c, e});
            cap += L - load[e];
          }
        }
        int loops = loopsFor(load[c] - cap);
        if (light.size() == 1) {
          loops = Math.max(1, loops);
        }
        for (int k = 0; k < loops; k++) {
          edges.add(new int[] {c, c});
        }
        return;
      }
      heavy.sort((a, b) -> Double.compare(x[a], x[b]));
      int li = 0;
      double in = 0;
      for (int j = 0; j < heavy.size(); j++) {
        int h = heavy.get(j);
        boolean last = j == heavy.size() - 1;
        double rem = load[h] - in;
        while (li < light.size() && (last || rem > L * (1 + EPS))) {
          int e = light.get(li++);
          edges.add(new int[] {h, e});
          rem -= L - load[e];
        }
        int loops;
        if (last) {
          loops = loopsFor(rem);
        } else {
          loops = loopsFor(rem - L);
          double out = Math.max(0, rem - loops * L);
          in = L - out;
          edges.add(new int[] {h, heavy.get(j + 1)});
        }
        for (int k = 0; k < loops; k++) {
          edges.add(new int[] {h, h});
        }
      }
    }

    private int loopsFor(double rem) {
      return rem > EPS * L ? (int) Math.ceil(rem / L - 1e-9) : 0;
    }
  }
}

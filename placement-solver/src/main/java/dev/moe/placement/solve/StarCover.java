package dev.moe.placement.solve;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** Prototype v2. */
final class StarCover {

  private static final double EPS = 1e-12;
  static boolean DEBUG = false;

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

  static int[] build(double[] load, int gpus, double maxLoad) {
    Cover cover = new Cover(load, maxLoad);
    cover.greedy();
    cover.improve();
    if (DEBUG) cover.debug(gpus);
    return cover.toSlots(gpus);
  }

  static final class Cover {
    final double[] load;
    final double L;
    final int n;
    final double[] x;
    final int[] group;
    final double[] gx;
    final int[] gsize;
    int groups;

    Cover(double[] load, double maxLoad) {
      this.load = load;
      this.L = maxLoad;
      n = load.length;
      x = new double[n];
      for (int e = 0; e < n; e++) {
        x[e] = 1 - load[e] / maxLoad;
      }
      group = new int[n];
      gx = new double[n];
      gsize = new int[n];
    }

    int newGroup(int... members) {
      int g = groups++;
      for (int e : members) {
        group[e] = g;
        gx[g] += x[e];
        gsize[g]++;
      }
      return g;
    }

    void join(int g, int e) {
      group[e] = g;
      gx[g] += x[e];
      gsize[g]++;
    }

    static double value(double sum, int size, boolean light) {
      if (size == 0) {
        return 0;
      }
      double v = Math.min(1, Math.floor(sum + 1e-9));
      return size == 1 && light ? Math.min(0, v) : v;
    }

    double waste(double sum, int size) {
      if (size == 0) {
        return 0;
      }
      return sum - value(sum, size, sum >= 0);
    }

    void greedy() {
      List<Integer> lows = new ArrayList<>();
      List<Integer> bigs = new ArrayList<>();
      List<Integer> heavies = new ArrayList<>();
      for (int e = 0; e < n; e++) {
        (x[e] < 0 ? heavies : x[e] < 0.5 ? lows : bigs).add(e);
      }
      lows.sort((a, b) -> Double.compare(x[a], x[b]));
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
      List<Integer> sink = new ArrayList<>();
      double sinkSum = 0;
      List<int[]> pairs = new ArrayList<>();
      for (int a : lows) {
        int j = find(next, lowerBound(bx, 1 - x[a] - 1e-9));
        if (j < nb) {
          next[j] = j + 1;
          pairs.add(new int[] {a, bigs.get(j)});
        } else {
          sink.add(a);
          sinkSum += x[a];
        }
      }
      double need = 0;
      for (int h : heavies) {
        need += 1 - x[h];
      }
      List<Integer> rest = new ArrayList<>();
      for (int j = 0; j < nb; j++) {
        if (find(next, j) == j) {
          rest.add(bigs.get(j));
        }
      }
      int top = rest.size();
      while (top > 0 && sinkSum < need) {
        int e = rest.get(--top);
        sink.add(e);
        sinkSum += x[e];
      }
      if (top % 2 == 1) {
        int e = rest.get(--top);
        sink.add(e);
        sinkSum += x[e];
      }
      for (int i = 0; i + 1 < top; i += 2) {
        pairs.add(new int[] {rest.get(i), rest.get(i + 1)});
      }
      pairs.sort((p, q) -> Double.compare(x[q[0]] + x[q[1]], x[p[0]] + x[p[1]]));
      int broken = 0;
      while (sinkSum < need && broken < pairs.size()) {
        int[] p = pairs.get(broken++);
        sink.add(p[0]);
        sink.add(p[1]);
        sinkSum += x[p[0]] + x[p[1]];
      }
      for (int i = broken; i < pairs.size(); i++) {
        newGroup(pairs.get(i));
      }
      sink.sort((a, b) -> Double.compare(x[b], x[a]));
      boolean[] used = new boolean[n];
      for (int h : heavies) {
        int g = newGroup(h);
        double open = 1 - x[h];
        while (open > 1e-9) {
          int pick = -1;
          for (int e : sink) {
            if (!used[e] && x[e] >= open - 1e-9 && (pick < 0 || x[e] < x[pick])) {
              pick = e;
            }
          }
          if (pick < 0) {
            for (int e : sink) {
              if (!used[e]) {
                pick = e;
                break;
              }
            }
          }
          if (pick < 0) {
            break;
          }
          used[pick] = true;
          join(g, pick);
          open -= x[pick];
        }
      }
      for (int e : sink) {
        if (!used[e]) {
          newGroup(e);
        }
      }
    }

    /** Local search on total waste: move or swap single experts between groups. */
    void improve() {
      for (int pass = 0; pass < 50; pass++) {
        boolean changed = false;
        for (int e = 0; e < n; e++) {
          int a = group[e];
          double baseA = waste(gx[a], gsize[a]);
          double bestDelta = -1e-9;
          int bestGroup = -1;
          int bestSwap = -1;
          double xa1 = gx[a] - x[e];
          double wa1 = waste(xa1, gsize[a] - 1);
          for (int b = 0; b < groups; b++) {
            if (b == a || gsize[b] == 0) {
              continue;
            }
            double d = wa1 + waste(gx[b] + x[e], gsize[b] + 1) - baseA - waste(gx[b], gsize[b]);
            if (d < bestDelta) {
              bestDelta = d;
              bestGroup = b;
              bestSwap = -1;
            }
          }
          for (int f = 0; f < n; f++) {
            int b = group[f];
            if (b == a || x[f] == x[e]) {
              continue;
            }
            double d = waste(gx[a] - x[e] + x[f], gsize[a]) + waste(gx[b] - x[f] + x[e], gsize[b])
                - baseA - waste(gx[b], gsize[b]);
            if (d < bestDelta) {
              bestDelta = d;
              bestGroup = b;
              bestSwap = f;
            }
          }
          if (bestGroup >= 0) {
            changed = true;
            int b = bestGroup;
            gx[a] -= x[e];
            gsize[a]--;
            join(b, e);
            if (bestSwap >= 0) {
              gx[b] -= x[bestSwap];
              gsize[b]--;
              join(a, bestSwap);
            }
          }
        }
        if (!changed) {
          break;
        }
      }
    }

    double totalWaste() {
      double w = 0;
      for (int g = 0; g < groups; g++) {
        w += waste(gx[g], gsize[g]);
      }
      return w;
    }

    void debug(int gpus) {
      double X = 0;
      for (double v : x) X += v;
      System.out.printf("L=%.6g budget=%.3f waste=%.3f%n", L, X - (n - gpus), totalWaste());
      List<String> lines = new ArrayList<>();
      for (int g = 0; g < groups; g++) {
        if (gsize[g] == 0) continue;
        List<Double> xs = new ArrayList<>();
        for (int e = 0; e < n; e++) if (group[e] == g) xs.add(x[e]);
        xs.sort(null);
        StringBuilder b = new StringBuilder();
        for (double v : xs) b.append(String.format(" %.3f", v));
        lines.add(String.format("%s waste %.3f :%s", xs.get(0) < 0 ? "H" : "L", waste(gx[g], gsize[g]), b));
      }
      lines.sort(null);
      for (String l : lines) System.out.println(l);
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

    int[] toSlots(int gpus) {
      List<List<Integer>> members = new ArrayList<>();
      for (int g = 0; g < groups; g++) {
        members.add(new ArrayList<>());
      }
      for (int e = 0; e < n; e++) {
        members.get(group[e]).add(e);
      }
      members.removeIf(List::isEmpty);
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
      int spare = gpus - edges.size();
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
      for (int s = 0; s < spare; s++) {
        int best = 0;
        double bestLoad = -1;
        for (int i = 0; i < k; i++) {
          double per = weight[i] / (start[i + 1] - start[i] + extra[i]);
          if (per > bestLoad) {
            bestLoad = per;
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

    void realize(List<Integer> members, List<int[]> edges) {
      List<Integer> heavy = new ArrayList<>();
      List<Integer> light = new ArrayList<>();
      for (int e : members) {
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
        for (int s = 0; s < loops; s++) {
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
        while (li < light.size() && (last || rem > L * (1 + 1e-9))) {
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
        for (int s = 0; s < loops; s++) {
          edges.add(new int[] {h, h});
        }
      }
    }

    private int loopsFor(double rem) {
      return rem > 1e-9 * L ? (int) Math.ceil(rem / L - 1e-9) : 0;
    }
  }
}

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

  static int passes = Integer.getInteger("passes", 30);
  static int[] build(double[] load, int gpus, double maxLoad) {
    for (int strategy = 0; strategy < 2; strategy++) {
      Cover cover = new Cover(load, maxLoad);
      if (strategy == 0) {
        cover.greedyCount();
      } else {
        cover.greedyWaste();
      }
      int need = load.length - gpus;
      if (cover.closed() < need) {
        cover.improve(passes);
      }
      if (DEBUG) cover.debug(gpus);
      if (cover.closed() >= need) {
        int[] map = cover.toSlots(gpus);
        if (map != null) {
          return map;
        }
      }
    }
    return null;
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

    void greedyWaste() {
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

    void greedyCount() {
      List<Integer> lights = new ArrayList<>();
      List<Integer> heavies = new ArrayList<>();
      for (int e = 0; e < n; e++) {
        (x[e] < 0 ? heavies : lights).add(e);
      }
      lights.sort((a, b) -> Double.compare(x[b], x[a]));
      heavies.sort((a, b) -> Double.compare(x[a], x[b]));
      int m = lights.size();
      double[] lx = new double[m];
      for (int i = 0; i < m; i++) {
        lx[i] = x[lights.get(i)];
      }
      boolean[] used = new boolean[m];
      for (int h : heavies) {
        int g = newGroup(h);
        double c = 1 - x[h];
        int loops = (int) Math.ceil(c - 1e-9);
        double bestDelta = 1 - loops;
        int bestJ = loops;
        int bestK = 0;
        for (int j = 0; j < loops; j++) {
          double r = c - j;
          double sum = 0;
          int k = 0;
          for (int i = 0; i < m && sum < r - 1e-9; i++) {
            if (!used[i]) {
              sum += lx[i];
              k++;
            }
          }
          if (sum < r - 1e-9) {
            continue;
          }
          double delta = 1 - j - k / 2.0;
          if (delta > bestDelta + 1e-9) {
            bestDelta = delta;
            bestJ = j;
            bestK = k;
          }
        }
        if (bestK == 0) {
          continue;
        }
        // The bestK largest free slacks reach the target: lower each pick, largest first, to the
        // smallest free slack that still reaches it, saving big slacks for later heavies and lows.
        double r = c - bestJ;
        List<Integer> pick = new ArrayList<>();
        for (int i = 0; i < m && pick.size() < bestK; i++) {
          if (!used[i]) {
            pick.add(i);
          }
        }
        double sum = 0;
        for (int i : pick) {
          sum += lx[i];
        }
        for (int p = 0; p < pick.size(); p++) {
          int cur = pick.get(p);
          double slack = sum - r;
          int repl = cur;
          for (int i = m - 1; i > cur; i--) {
            if (!used[i] && !pick.contains(i) && lx[i] >= lx[cur] - slack - 1e-12) {
              repl = i;
              break;
            }
          }
          if (repl != cur) {
            sum += lx[repl] - lx[cur];
            pick.set(p, repl);
          }
        }
        for (int i : pick) {
          used[i] = true;
          join(g, lights.get(i));
        }
      }
      // Maximum pairing of the rest: the smallest slack with the largest that closes it.
      int lo = m - 1;
      int hi = 0;
      List<Integer> left = new ArrayList<>();
      while (true) {
        while (lo >= 0 && used[lo]) {
          lo--;
        }
        while (hi < m && used[hi]) {
          hi++;
        }
        if (lo <= hi) {
          if (lo == hi) {
            left.add(lights.get(lo));
          }
          break;
        }
        if (lx[lo] + lx[hi] >= 1 - 1e-9) {
          newGroup(lights.get(lo), lights.get(hi));
          used[hi] = true;
        } else {
          left.add(lights.get(lo));
        }
        used[lo] = true;
      }
      for (int e : left) {
        newGroup(e);
      }
    }

    /** Surplus: overshoot of a closed group, progress of an open one; concentrating it helps. */
    double surplus(double sum, int size) {
      if (size == 0) {
        return 0;
      }
      double v = value(sum, size, sum >= 0);
      return sum - v;
    }

    double score(double sum, int size) {
      double s = surplus(sum, size);
      return s * s;
    }

    /** Hill climbing on (closed groups, concentrated surplus) with moves and swaps. */
    void improve(int maxPasses) {
      for (int pass = 0; pass < maxPasses; pass++) {
        boolean changed = false;
        for (int e = 0; e < n; e++) {
          int a = group[e];
          double va = value(gx[a], gsize[a], gx[a] >= 0);
          double sa = score(gx[a], gsize[a]);
          double bestDv = 0;
          double bestDs = 1e-12;
          int bestGroup = -1;
          int bestSwap = -1;
          double xa1 = gx[a] - x[e];
          double va1 = value(xa1, gsize[a] - 1, xa1 >= 0);
          double sa1 = score(xa1, gsize[a] - 1);
          int empty = -1;
          for (int b = 0; b < Math.min(n, groups + 1); b++) {
            if (b == a) {
              continue;
            }
            if (gsize[b] == 0) {
              if (empty >= 0) {
                continue;
              }
              empty = b;
            }
            double xb1 = gx[b] + x[e];
            double dv = va1 + value(xb1, gsize[b] + 1, xb1 >= 0) - va - value(gx[b], gsize[b], gx[b] >= 0);
            double ds = sa1 + score(xb1, gsize[b] + 1) - sa - score(gx[b], gsize[b]);
            if (dv > bestDv + 1e-9 || (dv > bestDv - 1e-9 && ds > bestDs)) {
              bestDv = dv;
              bestDs = ds;
              bestGroup = b;
              bestSwap = -1;
            }
          }
          for (int f = 0; f < n; f++) {
            int b = group[f];
            if (b == a || x[f] == x[e]) {
              continue;
            }
            double xa2 = gx[a] - x[e] + x[f];
            double xb2 = gx[b] - x[f] + x[e];
            double dv = value(xa2, gsize[a], xa2 >= 0) + value(xb2, gsize[b], xb2 >= 0) - va
                - value(gx[b], gsize[b], gx[b] >= 0);
            double ds = score(xa2, gsize[a]) + score(xb2, gsize[b]) - sa - score(gx[b], gsize[b]);
            if (dv > bestDv + 1e-9 || (dv > bestDv - 1e-9 && ds > bestDs)) {
              bestDv = dv;
              bestDs = ds;
              bestGroup = b;
              bestSwap = f;
            }
          }
          if (bestGroup >= 0) {
            changed = true;
            int b = bestGroup;
            if (b >= groups) {
              groups = b + 1;
            }
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

    int closed() {
      double v = 0;
      for (int g = 0; g < groups; g++) {
        v += value(gx[g], gsize[g], gx[g] >= 0);
      }
      return (int) Math.round(v);
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

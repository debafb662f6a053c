package dev.moe.placement.solve;

import java.util.Arrays;

/**
 * The best replica shares for a fixed layer placement, exactly.
 *
 * <p>Given which GPUs hold which experts, the smallest max GPU load L* is a parametric max-flow
 * (source -> expert with its load, expert -> each GPU holding it, GPU -> sink with capacity L). We
 * find it by Dinkelbach iteration: at an infeasible L the min cut's expert side X gives the next
 * L = w(X) / |GPUs(X)|, which reaches L* exactly in a few rounds. The experts whose GPUs are all
 * saturated at L* are the bottleneck the optimizer must break to do better.
 */
public final class ShareBalancer {

  /** Relative tolerance for "all load routed". */
  private static final double EPS = 1e-9;

  /** How far below the optimum the tight sets are read. */
  private static final double TIGHT = 1e-7;

  /**
   * @param maxLoad the smallest achievable max GPU load
   * @param gpuLoad each GPU's load under {@code slotShare}
   * @param slotShare each slot's share of its expert's tokens
   * @param bottleneck every expert whose GPUs are all saturated at {@code maxLoad} (the union of
   *     all tight sets)
   * @param tightGpus how many GPUs those experts hold: fewer means closer to a lower max load
   */
  public record Result(
      double maxLoad, double[] gpuLoad, double[] slotShare, boolean[] bottleneck, int tightGpus) {}

  private final double[] load;
  private final int experts;
  private final int gpus;
  private final int slotsPerGpu;
  private final double total;

  public ShareBalancer(double[] load, int gpus, int slotsPerGpu) {
    this.load = load;
    this.experts = load.length;
    this.gpus = gpus;
    this.slotsPerGpu = slotsPerGpu;
    double sum = 0;
    for (double w : load) {
      sum += w;
    }
    this.total = sum;
  }

  public double total() {
    return total;
  }

  /** Balances {@code slotExpert} (expert id of each slot) and returns the shares. */
  public Result balance(int[] slotExpert) {
    Flow flow = new Flow(slotExpert);
    double maxLoad = flow.lowerStart();
    for (int round = 0; round < 64; round++) {
      if (flow.maxFlow(maxLoad) >= total * (1 - EPS)) {
        break;
      }
      boolean[] cut = flow.sourceSideExperts();
      double next = loadOf(cut) / flow.gpusHolding(cut);
      // A cut no better than L is floating-point noise at the optimum: step past it.
      maxLoad = next <= maxLoad * (1 + 1e-12) ? maxLoad * (1 + 1e-9) : next;
    }
    double[] shares = flow.readShares();
    // Just below the optimum every tight set is on the source side of the min cut at once.
    flow.maxFlow(maxLoad * (1 - TIGHT));
    boolean[] tight = flow.sourceSideExperts();
    return new Result(maxLoad, gpuLoads(slotExpert, shares), shares, tight, flow.gpusHolding(tight));
  }

  private double loadOf(boolean[] set) {
    double sum = 0;
    for (int e = 0; e < experts; e++) {
      if (set[e]) {
        sum += load[e];
      }
    }
    return sum;
  }

  private double[] gpuLoads(int[] slotExpert, double[] shares) {
    double[] gpuLoad = new double[gpus];
    for (int s = 0; s < slotExpert.length; s++) {
      gpuLoad[s / slotsPerGpu] += shares[s] * load[slotExpert[s]];
    }
    return gpuLoad;
  }

  /**
   * Whether {@code slotExpert} can do better than {@code level}, from one max-flow: {@code
   * feasible} when its best max load is at most {@code level}; otherwise the min cut's expert set
   * bounds its max load from below by {@code cutRatio} and holds {@code cutGpus} GPUs.
   */
  public record Probe(boolean feasible, double cutRatio, int cutGpus) {}

  public Probe probe(int[] slotExpert, double level) {
    Flow flow = new Flow(slotExpert);
    if (flow.lowerStart() > level) {
      return new Probe(false, flow.lowerStart(), Integer.MAX_VALUE);
    }
    if (flow.maxFlow(level) >= total * (1 - EPS)) {
      return new Probe(true, level, 0);
    }
    boolean[] cut = flow.sourceSideExperts();
    int cutGpus = flow.gpusHolding(cut);
    return new Probe(false, loadOf(cut) / cutGpus, cutGpus);
  }

  /** Max load only, for callers that just compare placements. */
  public double maxLoad(int[] slotExpert) {
    return balance(slotExpert).maxLoad();
  }

  /** A Dinic max-flow over the bipartite expert/GPU graph of one placement. */
  private final class Flow {
    final int[][] gpusOf;
    final int[] slotExpert;
    final int source;
    final int sink;
    final int nodes;
    final int[] head;
    int[] next;
    int[] to;
    double[] cap;
    int edges;
    final int[] sinkEdge;
    final int[] sourceEdge;
    final int[][] expertGpuEdge;
    final int[] level;
    final int[] iter;

    Flow(int[] slotExpert) {
      this.slotExpert = slotExpert;
      int[] count = new int[experts];
      int[][] lists = new int[experts][];
      // Slots come in GPU order, so a repeated (expert, GPU) follows the last GPU seen for it.
      int[] lastGpu = new int[experts];
      Arrays.fill(lastGpu, -1);
      for (int s = 0; s < slotExpert.length; s++) {
        int e = slotExpert[s];
        int g = s / slotsPerGpu;
        if (lastGpu[e] != g) {
          lastGpu[e] = g;
          if (lists[e] == null) {
            lists[e] = new int[2];
          } else if (count[e] == lists[e].length) {
            lists[e] = Arrays.copyOf(lists[e], count[e] * 2);
          }
          lists[e][count[e]++] = g;
        }
      }
      gpusOf = new int[experts][];
      for (int e = 0; e < experts; e++) {
        if (count[e] == 0) {
          throw new IllegalArgumentException("expert " + e + " has no replica");
        }
        gpusOf[e] = Arrays.copyOf(lists[e], count[e]);
      }
      source = experts + gpus;
      sink = source + 1;
      nodes = sink + 1;
      head = new int[nodes];
      Arrays.fill(head, -1);
      int capacity = 2 * (experts + gpus + slotExpert.length);
      next = new int[capacity];
      to = new int[capacity];
      cap = new double[capacity];
      expertGpuEdge = new int[experts][];
      sourceEdge = new int[experts];
      for (int e = 0; e < experts; e++) {
        sourceEdge[e] = addEdge(source, e, 0);
        expertGpuEdge[e] = new int[gpusOf[e].length];
        for (int i = 0; i < gpusOf[e].length; i++) {
          expertGpuEdge[e][i] = addEdge(e, experts + gpusOf[e][i], 0);
        }
      }
      sinkEdge = new int[gpus];
      for (int g = 0; g < gpus; g++) {
        sinkEdge[g] = addEdge(experts + g, sink, 0);
      }
      level = new int[nodes];
      iter = new int[nodes];
    }

    private int addEdge(int from, int toNode, double capacity) {
      int id = edges;
      to[edges] = toNode;
      cap[edges] = capacity;
      next[edges] = head[from];
      head[from] = edges++;
      to[edges] = from;
      cap[edges] = 0;
      next[edges] = head[toNode];
      head[toNode] = edges++;
      return id;
    }

    /** Max load can never be below the mean, nor below any expert spread over all its GPUs. */
    double lowerStart() {
      double start = total / gpus;
      for (int e = 0; e < experts; e++) {
        start = Math.max(start, load[e] / gpusOf[e].length);
      }
      return start;
    }

    double maxFlow(double maxLoad) {
      double inf = total + 1;
      for (int e = 0; e < experts; e++) {
        cap[sourceEdge[e]] = load[e];
        cap[sourceEdge[e] + 1] = 0;
        for (int id : expertGpuEdge[e]) {
          cap[id] = inf;
          cap[id + 1] = 0;
        }
      }
      for (int g = 0; g < gpus; g++) {
        cap[sinkEdge[g]] = maxLoad;
        cap[sinkEdge[g] + 1] = 0;
      }
      double flow = 0;
      double eps = total * 1e-15;
      while (bfs(eps)) {
        System.arraycopy(head, 0, iter, 0, nodes);
        double pushed;
        while ((pushed = dfs(source, Double.MAX_VALUE, eps)) > eps) {
          flow += pushed;
        }
      }
      return flow;
    }

    private boolean bfs(double eps) {
      Arrays.fill(level, -1);
      int[] queue = new int[nodes];
      int qh = 0;
      int qt = 0;
      queue[qt++] = source;
      level[source] = 0;
      while (qh < qt) {
        int v = queue[qh++];
        for (int id = head[v]; id >= 0; id = next[id]) {
          if (cap[id] > eps && level[to[id]] < 0) {
            level[to[id]] = level[v] + 1;
            queue[qt++] = to[id];
          }
        }
      }
      return level[sink] >= 0;
    }

    private double dfs(int v, double pushed, double eps) {
      if (v == sink) {
        return pushed;
      }
      for (; iter[v] >= 0; iter[v] = next[iter[v]]) {
        int id = iter[v];
        int u = to[id];
        if (cap[id] > eps && level[u] == level[v] + 1) {
          double d = dfs(u, Math.min(pushed, cap[id]), eps);
          if (d > eps) {
            cap[id] -= d;
            cap[id ^ 1] += d;
            return d;
          }
        }
      }
      return 0;
    }

    int gpusHolding(boolean[] set) {
      boolean[] seen = new boolean[gpus];
      int count = 0;
      for (int e = 0; e < experts; e++) {
        if (set[e]) {
          for (int g : gpusOf[e]) {
            if (!seen[g]) {
              seen[g] = true;
              count++;
            }
          }
        }
      }
      return count;
    }

    boolean[] sourceSideExperts() {
      boolean[] x = new boolean[experts];
      for (int e = 0; e < experts; e++) {
        x[e] = level[e] >= 0;
      }
      return x;
    }

    /** Shares from the current flow, split evenly over an expert's slots on one GPU. */
    double[] readShares() {
      double[] slotShare = new double[slotExpert.length];
      int[][] slotsOn = new int[experts][];
      for (int e = 0; e < experts; e++) {
        slotsOn[e] = new int[gpusOf[e].length];
      }
      for (int s = 0; s < slotExpert.length; s++) {
        int e = slotExpert[s];
        slotsOn[e][indexOf(gpusOf[e], s / slotsPerGpu)]++;
      }
      for (int s = 0; s < slotExpert.length; s++) {
        int e = slotExpert[s];
        int i = indexOf(gpusOf[e], s / slotsPerGpu);
        double f = cap[expertGpuEdge[e][i] + 1];
        double share = load[e] > 0 ? f / load[e] : 1.0 / (gpusOf[e].length);
        slotShare[s] = share / slotsOn[e][i];
      }
      normalise(slotShare);
      return slotShare;
    }

    /** Removes floating-point drift so each expert's shares sum to exactly 1. */
    private void normalise(double[] slotShare) {
      double[] sum = new double[experts];
      for (int s = 0; s < slotShare.length; s++) {
        sum[slotExpert[s]] += slotShare[s];
      }
      for (int s = 0; s < slotShare.length; s++) {
        slotShare[s] /= sum[slotExpert[s]];
      }
    }

    private static int indexOf(int[] values, int v) {
      for (int i = 0; i < values.length; i++) {
        if (values[i] == v) {
          return i;
        }
      }
      throw new IllegalStateException("GPU " + v + " not found");
    }
  }
}

package dev.moe.placement.solve;

import com.google.ortools.Loader;
import com.google.ortools.graph.MinCostFlow;
import com.google.ortools.graph.MinCostFlowBase;
import dev.moe.placement.ClusterSpec;

/**
 * Replica shares that keep as much traffic on-node as the max load allows.
 *
 * <p>Tokens start evenly on every node; an expert's dispatches from node n stay on-node as far as
 * its replicas there take them, so the on-node part is {@code sum_n min(w/nodes, flow to n)}. A
 * min-cost flow models that with two arcs per (expert, node): the first {@code w/nodes} units free,
 * the rest at cost 1; GPUs cap at the given max load.
 */
final class LocalShares {

  /** Loads scaled to this many integer units per layer. */
  private static final double SCALE = 1e9;

  static {
    Loader.loadNativeLibraries();
  }

  private LocalShares() {}

  /** Shares per slot, or null when the flow cannot route everything under {@code maxLoad}. */
  static double[] shares(double[] load, int[] map, ClusterSpec cluster, double maxLoad) {
    int experts = load.length;
    int gpus = cluster.gpus();
    int nodes = cluster.nodes();
    double total = 0;
    for (double w : load) {
      total += w;
    }
    if (total == 0 || nodes == 1) {
      return null;
    }
    double unit = total / SCALE;
    long[] w = new long[experts];
    long sum = 0;
    for (int e = 0; e < experts; e++) {
      w[e] = Math.round(load[e] / unit);
      sum += w[e];
    }
    // Node ids: experts, then (expert, node) pairs, then GPUs, then the sink.
    int pairBase = experts;
    int gpuBase = pairBase + experts * nodes;
    int sink = gpuBase + gpus;
    MinCostFlow flow = new MinCostFlow();
    int[] slotsOnGpu = new int[experts * gpus];
    for (int s = 0; s < map.length; s++) {
      slotsOnGpu[map[s] * gpus + cluster.gpuOfSlot(s)]++;
    }
    boolean[] pairUsed = new boolean[experts * nodes];
    int[][] arcOf = new int[experts][gpus];
    for (int e = 0; e < experts; e++) {
      for (int g = 0; g < gpus; g++) {
        arcOf[e][g] = -1;
        if (slotsOnGpu[e * gpus + g] > 0) {
          int pair = pairBase + e * nodes + cluster.nodeOf(g);
          pairUsed[e * nodes + cluster.nodeOf(g)] = true;
          arcOf[e][g] = flow.addArcWithCapacityAndUnitCost(pair, gpuBase + g, w[e], 0);
        }
      }
      for (int n = 0; n < nodes; n++) {
        if (pairUsed[e * nodes + n]) {
          int pair = pairBase + e * nodes + n;
          long free = (w[e] + nodes - 1) / nodes;
          flow.addArcWithCapacityAndUnitCost(e, pair, free, 0);
          flow.addArcWithCapacityAndUnitCost(e, pair, w[e], 1);
        }
      }
      flow.setNodeSupply(e, w[e]);
    }
    long cap = (long) Math.ceil(maxLoad / unit) + experts;
    for (int g = 0; g < gpus; g++) {
      flow.addArcWithCapacityAndUnitCost(gpuBase + g, sink, cap, 0);
    }
    flow.setNodeSupply(sink, -sum);
    if (flow.solve() != MinCostFlowBase.Status.OPTIMAL) {
      return null;
    }
    double[] shares = new double[map.length];
    for (int s = 0; s < map.length; s++) {
      int e = map[s];
      int g = cluster.gpuOfSlot(s);
      shares[s] = w[e] == 0
          ? 1.0 / count(map, e)
          : (double) flow.getFlow(arcOf[e][g]) / w[e] / slotsOnGpu[e * gpus + g];
    }
    return shares;
  }

  private static int count(int[] map, int expert) {
    int c = 0;
    for (int x : map) {
      if (x == expert) {
        c++;
      }
    }
    return c;
  }
}

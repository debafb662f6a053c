package dev.moe.placement.solve;

import dev.moe.placement.ClusterSpec;
import java.util.Arrays;

/** The hottest experts of a layer, kept on several nodes so that losing one node never loses them. */
final class HotExperts {

  /** Share of a layer's experts counted as hot. */
  static final double HOT_FRACTION = 0.05;

  private HotExperts() {}

  static boolean[] hottest(double[] load) {
    int k = (int) Math.ceil(HOT_FRACTION * load.length);
    Integer[] order = new Integer[load.length];
    for (int e = 0; e < order.length; e++) {
      order[e] = e;
    }
    Arrays.sort(order, (a, b) -> Double.compare(load[b], load[a]));
    boolean[] hot = new boolean[load.length];
    for (int i = 0; i < k; i++) {
      hot[order[i]] = true;
    }
    return hot;
  }

  static boolean spreadOk(int[] map, boolean[] hot, int minNodes, ClusterSpec cluster) {
    int need = Math.min(minNodes, cluster.nodes());
    boolean[][] on = new boolean[hot.length][];
    int[] nodes = new int[hot.length];
    for (int s = 0; s < map.length; s++) {
      int e = map[s];
      if (!hot[e]) {
        continue;
      }
      if (on[e] == null) {
        on[e] = new boolean[cluster.nodes()];
      }
      int n = cluster.nodeOf(cluster.gpuOfSlot(s));
      if (!on[e][n]) {
        on[e][n] = true;
        nodes[e]++;
      }
    }
    for (int e = 0; e < hot.length; e++) {
      if (hot[e] && nodes[e] < need) {
        return false;
      }
    }
    return true;
  }

  /**
   * Gives each hot expert replicas on {@code minNodes} nodes, each time replacing the replica whose
   * loss costs least (an expert with replicas to spare, lightest per remaining replica).
   */
  static int[] enforce(int[] start, double[] load, boolean[] hot, int minNodes, ClusterSpec cluster) {
    int[] map = start.clone();
    int need = Math.min(minNodes, cluster.nodes());
    for (int e = 0; e < hot.length; e++) {
      if (!hot[e]) {
        continue;
      }
      while (nodesOf(map, e, cluster) < need) {
        boolean[] has = new boolean[cluster.nodes()];
        for (int s = 0; s < map.length; s++) {
          if (map[s] == e) {
            has[cluster.nodeOf(cluster.gpuOfSlot(s))] = true;
          }
        }
        int[] count = new int[load.length];
        for (int x : map) {
          count[x]++;
        }
        int best = -1;
        for (int s = 0; s < map.length; s++) {
          int f = map[s];
          boolean spare = count[f] >= 2 && (!hot[f] || nodesOf(map, f, cluster) > need
              || sameNodeTwice(map, f, s, cluster));
          if (spare && !has[cluster.nodeOf(cluster.gpuOfSlot(s))]
              && (best < 0 || load[f] / (count[f] - 1) < load[map[best]] / (count[map[best]] - 1))) {
            best = s;
          }
        }
        if (best < 0) {
          throw new IllegalArgumentException("cannot keep the hottest experts on " + need
              + " nodes: there are too few spare slots (add slots per GPU or lower --hot-expert-min-nodes)");
        }
        map[best] = e;
      }
    }
    return map;
  }

  private static int nodesOf(int[] map, int expert, ClusterSpec cluster) {
    boolean[] has = new boolean[cluster.nodes()];
    int n = 0;
    for (int s = 0; s < map.length; s++) {
      if (map[s] == expert && !has[cluster.nodeOf(cluster.gpuOfSlot(s))]) {
        has[cluster.nodeOf(cluster.gpuOfSlot(s))] = true;
        n++;
      }
    }
    return n;
  }

  /** Whether the expert in slot {@code slot} has another replica on the same node. */
  private static boolean sameNodeTwice(int[] map, int expert, int slot, ClusterSpec cluster) {
    int node = cluster.nodeOf(cluster.gpuOfSlot(slot));
    for (int s = 0; s < map.length; s++) {
      if (s != slot && map[s] == expert && cluster.nodeOf(cluster.gpuOfSlot(s)) == node) {
        return true;
      }
    }
    return false;
  }
}

package dev.moe.placement.colocation;

import dev.moe.placement.ClusterSpec;
import dev.moe.placement.Placement;
import dev.moe.stats.LayerPair;
import dev.moe.stats.RoutingStats;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * The layers transitions link, in order, and per recorded pair the transitions each pair of
 * replicas keeps when they share a GPU: {@code counts[i][j] x min(share of p, share of q)} for
 * replica p of expert i in the earlier layer and q of expert j in the later one.
 *
 * @param layers the linked layers (MoE layers some pair names), ascending
 * @param pairs the usable pairs, by index into {@code layers}
 */
record Linked(int[] layers, List<Pair> pairs) {

  /** @param weight {@code [slot p of layers[a]][slot q of layers[b]]} */
  record Pair(int a, int b, double[][] weight) {}

  static Linked of(RoutingStats stats, Placement start, ClusterSpec cluster) {
    TreeSet<Integer> linked = new TreeSet<>();
    for (LayerPair pair : stats.transitions().keySet()) {
      if (usable(stats, pair, start.layers())) {
        linked.add(pair.from());
        linked.add(pair.to());
      }
    }
    int[] layers = linked.stream().mapToInt(Integer::intValue).toArray();
    List<Pair> pairs = new ArrayList<>();
    for (Map.Entry<LayerPair, double[][]> pair : stats.transitions().entrySet()) {
      if (!usable(stats, pair.getKey(), start.layers())) {
        continue;
      }
      int a = Arrays.binarySearch(layers, pair.getKey().from());
      int b = Arrays.binarySearch(layers, pair.getKey().to());
      int[] mapA = start.physicalToLogical()[layers[a]];
      int[] mapB = start.physicalToLogical()[layers[b]];
      double[] sharesA = start.replicaShares()[layers[a]];
      double[] sharesB = start.replicaShares()[layers[b]];
      double[][] weight = new double[cluster.slots()][cluster.slots()];
      for (int p = 0; p < mapA.length; p++) {
        for (int q = 0; q < mapB.length; q++) {
          weight[p][q] = pair.getValue()[mapA[p]][mapB[q]] * Math.min(sharesA[p], sharesB[q]);
        }
      }
      pairs.add(new Pair(a, b, weight));
    }
    return new Linked(layers, pairs);
  }

  private static boolean usable(RoutingStats stats, LayerPair pair, int placedLayers) {
    return pair.from() < placedLayers && pair.to() < placedLayers
        && !stats.isDense(pair.from()) && !stats.isDense(pair.to());
  }

  /**
   * {@code start} with replica s of linked layer {@code layers[i]} moved, with its share, to GPU
   * {@code gpuOf[i][s]} (each GPU receiving its slot count).
   */
  Placement arrange(Placement start, ClusterSpec cluster, int[][] gpuOf) {
    int slotsPerGpu = cluster.slotsPerGpu();
    int[][] maps = new int[start.layers()][];
    double[][] shares = new double[start.layers()][];
    for (int l = 0; l < start.layers(); l++) {
      maps[l] = start.physicalToLogical()[l].clone();
      shares[l] = start.replicaShares()[l].clone();
    }
    for (int i = 0; i < layers.length; i++) {
      int layer = layers[i];
      int[] next = new int[cluster.gpus()];
      for (int s = 0; s < gpuOf[i].length; s++) {
        int slot = gpuOf[i][s] * slotsPerGpu + next[gpuOf[i][s]]++;
        maps[layer][slot] = start.physicalToLogical()[layer][s];
        shares[layer][slot] = start.replicaShares()[layer][s];
      }
    }
    return new Placement(slotsPerGpu, maps, shares, null);
  }
}

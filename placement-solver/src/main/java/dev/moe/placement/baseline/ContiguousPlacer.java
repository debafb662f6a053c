package dev.moe.placement.baseline;

import dev.moe.placement.ClusterSpec;
import dev.moe.placement.Placement;
import dev.moe.placement.Placer;
import dev.moe.stats.RoutingStats;

/**
 * Vanilla expert parallelism, blind to traffic: GPU g owns a contiguous block of E / G experts in
 * order (expert e on GPU e / (E / G)). When G does not divide E the first E mod G GPUs own one
 * expert more, so blocks stay contiguous and differ in size by at most one. A GPU's remaining slots
 * hold further replicas of its own experts, round-robin in order, and each expert's tokens split
 * evenly over its replicas. Every layer gets the same map.
 */
public final class ContiguousPlacer implements Placer {


  @Override
  public Placement place(RoutingStats stats, ClusterSpec cluster) {
    int experts = stats.experts();
    int gpus = cluster.gpus();
    int slotsPerGpu = cluster.slotsPerGpu();
    if (experts < gpus) {
      throw new IllegalArgumentException("contiguous placement needs at least one expert per GPU: "
          + experts + " experts for " + gpus + " GPUs");
    }
    int largestBlock = experts / gpus + (experts % gpus == 0 ? 0 : 1);
    if (largestBlock > slotsPerGpu) {
      throw new IllegalArgumentException("contiguous placement puts up to " + largestBlock + " of "
          + experts + " experts on one GPU, but a GPU has " + slotsPerGpu + " slots ("
          + cluster.slots() + " slots in all)");
    }
    int[] map = new int[cluster.slots()];
    int first = 0;
    for (int g = 0; g < gpus; g++) {
      int own = experts / gpus + (g < experts % gpus ? 1 : 0);
      for (int k = 0; k < slotsPerGpu; k++) {
        map[g * slotsPerGpu + k] = first + k % own;
      }
      first += own;
    }
    double[] shares = Placement.evenShares(map, experts);
    int[][] maps = new int[stats.layers()][];
    double[][] layerShares = new double[stats.layers()][];
    for (int layer = 0; layer < stats.layers(); layer++) {
      maps[layer] = map.clone();
      layerShares[layer] = shares.clone();
    }
    return new Placement(slotsPerGpu, maps, layerShares, null);
  }
}

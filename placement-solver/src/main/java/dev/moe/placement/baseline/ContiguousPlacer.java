package dev.moe.placement.baseline;

import dev.moe.placement.ClusterSpec;
import dev.moe.placement.Placement;
import dev.moe.placement.Placer;
import dev.moe.stats.RoutingStats;

/**
 * Vanilla expert parallelism: GPU g holds a contiguous block of experts, E / G of them (the first E
 * mod G GPUs one more), whatever the traffic. A GPU's spare slots hold further replicas of its own
 * experts in turn, and an expert's tokens split evenly over its replicas.
 */
public final class ContiguousPlacer implements Placer {

  @Override
  public String name() {
    return "contiguous";
  }

  @Override
  public Placement place(RoutingStats stats, ClusterSpec cluster) {
    int experts = stats.experts();
    int gpus = cluster.gpus();
    int slotsPerGpu = cluster.slotsPerGpu();
    int perGpu = (experts + gpus - 1) / gpus;
    if (perGpu > slotsPerGpu || experts < gpus) {
      throw new IllegalArgumentException("contiguous placement puts up to " + perGpu + " of " + experts
          + " experts on each of " + gpus + " GPUs, which hold " + slotsPerGpu + " slots each");
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
    int[][] maps = new int[stats.layers()][];
    double[][] shares = new double[stats.layers()][];
    for (int layer = 0; layer < stats.layers(); layer++) {
      maps[layer] = map.clone();
      shares[layer] = Placement.evenShares(map, experts);
    }
    return new Placement(slotsPerGpu, maps, shares, null);
  }
}

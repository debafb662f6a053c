package dev.moe.placement.solve;

import java.util.Arrays;
import java.util.Comparator;

/** Renumbers a placement's GPUs by falling load, the order the exact model's symmetry cut expects. */
final class HintOrder {

  private HintOrder() {}

  /** {@code result[oldGpu]} is the GPU's new number. */
  static int[] byLoad(int[] map, double[] shares, double[] load, int gpus, int slotsPerGpu) {
    double[] gpuLoad = new double[gpus];
    for (int s = 0; s < map.length; s++) {
      gpuLoad[s / slotsPerGpu] += shares[s] * load[map[s]];
    }
    Integer[] byLoad = new Integer[gpus];
    for (int g = 0; g < gpus; g++) {
      byLoad[g] = g;
    }
    Arrays.sort(byLoad, Comparator.comparingDouble(g -> -gpuLoad[g]));
    int[] rank = new int[gpus];
    for (int r = 0; r < gpus; r++) {
      rank[byLoad[r]] = r;
    }
    return rank;
  }
}

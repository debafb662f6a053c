package dev.moe.runtime.rebalance;

import dev.moe.placement.Placement;

/** Placements the runtime makes itself, when none is given. */
public final class Placements {

  private Placements() {}

  /**
   * One slot per expert, dealt round robin: expert {@code e} on GPU {@code e % gpus}, so each GPU
   * holds {@code ceil(experts / gpus)} slots. Where the experts do not divide evenly, the GPUs with
   * fewer experts fill their last slot with a replica of an expert with share 0: the slot exists
   * (every GPU has the same slot count) but never receives a token.
   */
  public static Placement roundRobin(int layers, int experts, int gpus) {
    if (experts < 1 || gpus < 1 || layers < 1) {
      throw new IllegalArgumentException("need at least one layer, expert and GPU, got " + layers + ", " + experts
          + ", " + gpus);
    }
    int perGpu = (experts + gpus - 1) / gpus;
    int[] map = new int[perGpu * gpus];
    double[] shares = new double[map.length];
    for (int g = 0; g < gpus; g++) {
      for (int i = 0; i < perGpu; i++) {
        int e = i * gpus + g;
        boolean padding = e >= experts;
        map[g * perGpu + i] = padding ? g % experts : e;
        shares[g * perGpu + i] = padding ? 0 : 1;
      }
    }
    int[][] maps = new int[layers][];
    double[][] allShares = new double[layers][];
    for (int l = 0; l < layers; l++) {
      maps[l] = map.clone();
      allShares[l] = shares.clone();
    }
    return new Placement(perGpu, maps, allShares, null);
  }
}

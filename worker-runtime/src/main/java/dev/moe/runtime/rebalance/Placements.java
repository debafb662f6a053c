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

  /**
   * {@code p} with {@code moved} slots of every GPU exchanged with the same slots of the next GPU
   * (the last GPU's with the first's), in every layer: the same replicas and shares, {@code moved}
   * x GPUs replicas per layer on another GPU ({@code moved} = slots per GPU moves every expert).
   * Applying it twice with 2 GPUs gives back {@code p}.
   */
  public static Placement swapped(Placement p, int gpus, int moved) {
    int perGpu = p.slotsPerGpu();
    int n = perGpu * gpus;
    if (moved < 0 || moved > perGpu) {
      throw new IllegalArgumentException("cannot move " + moved + " of " + perGpu + " slots per GPU");
    }
    int[][] maps = new int[p.physicalToLogical().length][];
    double[][] shares = new double[maps.length][];
    for (int l = 0; l < maps.length; l++) {
      if (p.physicalToLogical()[l].length != n) {
        throw new IllegalArgumentException("layer " + l + " has " + p.physicalToLogical()[l].length + " slots, not "
            + gpus + " GPUs x " + perGpu);
      }
      maps[l] = p.physicalToLogical()[l].clone();
      shares[l] = p.replicaShares()[l].clone();
      for (int s = 0; s < n; s++) {
        if (s % perGpu < moved) {
          int from = (s + perGpu) % n;
          maps[l][s] = p.physicalToLogical()[l][from];
          shares[l][s] = p.replicaShares()[l][from];
        }
      }
    }
    return new Placement(perGpu, maps, shares, null);
  }
}

package dev.moe.placement.solve;

/** Every slot map of a tiny layer, up to the order of slots within a GPU, with its best shares. */
final class BruteForce {

  private BruteForce() {}

  static double bestMaxLoad(double[] load, int gpus, int slotsPerGpu) {
    ShareBalancer balancer = new ShareBalancer(load, gpus, slotsPerGpu);
    double[] best = {Double.MAX_VALUE};
    enumerate(new int[gpus * slotsPerGpu], 0, load.length, slotsPerGpu, balancer, best);
    return best[0];
  }

  private static void enumerate(int[] map, int slot, int experts, int slotsPerGpu, ShareBalancer balancer, double[] best) {
    if (slot == map.length) {
      boolean[] seen = new boolean[experts];
      int distinct = 0;
      for (int e : map) {
        if (!seen[e]) {
          seen[e] = true;
          distinct++;
        }
      }
      if (distinct == experts) {
        best[0] = Math.min(best[0], balancer.maxLoad(map));
      }
      return;
    }
    // Slots within a GPU are interchangeable: keep them non-decreasing.
    int first = slot % slotsPerGpu == 0 ? 0 : map[slot - 1];
    for (int e = first; e < experts; e++) {
      map[slot] = e;
      enumerate(map, slot + 1, experts, slotsPerGpu, balancer, best);
    }
  }
}

package dev.moe.placement.colocation;

/**
 * What a colocation maximizes: transitions kept on one GPU minus {@code loadPrice} times the linked
 * layers' max GPU loads summed, with that sum at most {@code maxLoadSum} (infinite: no limit).
 * Loads and transitions are both in tokens; the price is whole tokens kept per token of max load, so
 * that CP-SAT's objective stays integral.
 */
public record ColocationObjective(double maxLoadSum, int loadPrice) {

  public ColocationObjective {
    if (!(maxLoadSum >= 0) || loadPrice < 0) {
      throw new IllegalArgumentException("a colocation objective needs a load limit >= 0 and a load price >= 0");
    }
  }

  /** ExFlow's: the most transitions kept on one GPU, load aside. */
  public static ColocationObjective keepTransitions() {
    return new ColocationObjective(Double.POSITIVE_INFINITY, 0);
  }

  /** Ours: the most transitions kept on one GPU, the max loads summing to at most {@code maxLoadSum}. */
  public static ColocationObjective keepTransitionsWithin(double maxLoadSum) {
    return new ColocationObjective(maxLoadSum, 0);
  }

  /**
   * MoETuner's: the least max GPU load plus cross-GPU transitions per GPU, summed over the linked
   * layers; times the GPU count that is {@code gpus x max loads - kept} plus a constant.
   */
  public static ColocationObjective loadPlusCrossingPerGpu(int gpus) {
    return new ColocationObjective(Double.POSITIVE_INFINITY, gpus);
  }

  /** The value of a placement that keeps {@code kept} with max loads summing to {@code loadSum}. */
  double score(double kept, double loadSum) {
    return kept - loadPrice * loadSum;
  }
}

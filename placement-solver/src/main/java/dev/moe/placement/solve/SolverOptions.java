package dev.moe.placement.solve;

import java.time.Duration;

/**
 * How the solver trades its objectives off, and how long it may search.
 *
 * @param timeLimit wall time for all layers together
 * @param maxMoves replicas that may move against the current placement, over all layers; negative
 *     means unlimited (and is what a solve without a current placement uses)
 * @param crossNodeWeight weight of dispatch traffic against max GPU load (both as fractions of
 *     the layer's tokens), where a dispatch that stays on its node but leaves its GPU costs 1 and
 *     one that leaves its node costs the cluster's inter-node cost
 * @param affinityWeight share of a layer's max load the solver may give up to keep inter-layer
 *     transitions and same-layer co-activation on one GPU (0: off)
 * @param migrationWeight weight of a moved replica, as a fraction of a layer's mean GPU load
 * @param hotExpertMinNodes the hottest experts keep replicas on at least this many nodes (1: off)
 * @param threads layers solved in parallel
 */
public record SolverOptions(
    Duration timeLimit,
    int maxMoves,
    double crossNodeWeight,
    double affinityWeight,
    double migrationWeight,
    int hotExpertMinNodes,
    int threads) {

  public SolverOptions {
    if (timeLimit.isNegative() || timeLimit.isZero()) {
      throw new IllegalArgumentException("--time-limit must be positive, got " + timeLimit);
    }
    for (double w : new double[] {crossNodeWeight, affinityWeight, migrationWeight}) {
      if (!(w >= 0) || Double.isInfinite(w)) {
        throw new IllegalArgumentException("objective weights must be finite and >= 0, got " + w);
      }
    }
    if (hotExpertMinNodes < 1) {
      throw new IllegalArgumentException("--hot-expert-min-nodes must be at least 1, got " + hotExpertMinNodes);
    }
    if (threads < 1) {
      throw new IllegalArgumentException("--threads must be at least 1, got " + threads);
    }
  }

  public static SolverOptions defaults() {
    return new SolverOptions(
        Duration.ofSeconds(10), -1, 0.02, 0.01, 0.001, 1, Runtime.getRuntime().availableProcessors());
  }

  public SolverOptions withTimeLimit(Duration limit) {
    return new SolverOptions(limit, maxMoves, crossNodeWeight, affinityWeight, migrationWeight, hotExpertMinNodes, threads);
  }

  public SolverOptions withMaxMoves(int moves) {
    return new SolverOptions(timeLimit, moves, crossNodeWeight, affinityWeight, migrationWeight, hotExpertMinNodes, threads);
  }

  public SolverOptions withAffinityWeight(double weight) {
    return new SolverOptions(timeLimit, maxMoves, crossNodeWeight, weight, migrationWeight, hotExpertMinNodes, threads);
  }
}

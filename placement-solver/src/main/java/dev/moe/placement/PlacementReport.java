package dev.moe.placement;

/**
 * What a placement achieves on some traffic. Key names in JSON are snake_case and fixed: scripts
 * read them.
 *
 * @param balancedness sum over layers of mean GPU load / sum over layers of max GPU load
 * @param balancednessBound a proven upper bound on balancedness for this traffic and cluster
 * @param gap {@code 1 - balancedness / balancednessBound}
 * @param crossNodeFraction expected share of token dispatches that leave their node
 * @param crossGpuTransitionFraction expected share of recorded inter-layer transitions whose two
 *     experts are served on different GPUs; NaN when no transitions were given
 * @param replicasMoved replicas a GPU must fetch to go from the current placement to this one
 * @param solveSeconds wall time of the solve
 * @param targetBalancedness for a step of a re-plan path, the balancedness of the placement the path
 *     leads to; NaN otherwise
 */
public record PlacementReport(
    double balancedness,
    double balancednessBound,
    double gap,
    double crossNodeFraction,
    double crossGpuTransitionFraction,
    int replicasMoved,
    double solveSeconds,
    double targetBalancedness) {

  /** A report that is no step of a path. */
  public PlacementReport(double balancedness, double balancednessBound, double gap, double crossNodeFraction,
      double crossGpuTransitionFraction, int replicasMoved, double solveSeconds) {
    this(balancedness, balancednessBound, gap, crossNodeFraction, crossGpuTransitionFraction, replicasMoved,
        solveSeconds, Double.NaN);
  }

  public PlacementReport withTargetBalancedness(double target) {
    return new PlacementReport(balancedness, balancednessBound, gap, crossNodeFraction, crossGpuTransitionFraction,
        replicasMoved, solveSeconds, target);
  }
}

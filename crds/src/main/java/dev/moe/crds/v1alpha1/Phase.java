package dev.moe.crds.v1alpha1;

/** Coarse state of a {@link MoEModel}; the conditions say why. */
public enum Phase {
  /** Accepted, nothing created yet. */
  Pending,
  /** Computing the initial placement. */
  Placing,
  /** Placement ready, workers starting. */
  Starting,
  /** All workers ready on the current placement. */
  Running,
  /** Rolling out a new placement revision. */
  Rebalancing,
  /** Serving, but with workers lost or an expert without a replica. */
  Degraded,
  /** Cannot serve; the Ready condition says why. */
  Failed
}

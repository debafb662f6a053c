package dev.moe.crds.v1alpha1;

/** What the operator does when the traffic changes. */
public enum RebalancingMode {
  /** Re-plan and roll out new placements. */
  Auto,
  /** Re-plan and report the decision, move nothing. */
  Observe,
  /** Neither re-plan nor roll out. */
  Off
}

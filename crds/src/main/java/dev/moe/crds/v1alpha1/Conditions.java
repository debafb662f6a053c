package dev.moe.crds.v1alpha1;

/** The condition types of {@link MoEModelStatus#getConditions()}. */
public final class Conditions {

  /** All of the below are well: workers serve the current placement. */
  public static final String READY = "Ready";
  /** A placement revision exists and is valid for the spec. */
  public static final String PLACEMENT_READY = "PlacementReady";
  /** The workers' init containers fetched weights.uri (set only for a model with a URI). */
  public static final String WEIGHTS_READY = "WeightsReady";
  /** All desired workers are ready. */
  public static final String WORKERS_READY = "WorkersReady";
  /** A new placement revision is rolling out. */
  public static final String REBALANCING = "Rebalancing";
  /** Serving with lost workers or experts without a replica. */
  public static final String DEGRADED = "Degraded";
  /** Every ready worker answers the OpenAI API. */
  public static final String API_READY = "ApiReady";
  /** Every ExpertPlacement labelled with the model is the model's own and valid. */
  public static final String REVISIONS_ACCEPTED = "RevisionsAccepted";

  private Conditions() {}
}

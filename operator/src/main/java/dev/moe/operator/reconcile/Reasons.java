package dev.moe.operator.reconcile;

import java.util.Set;

/** The reasons of a model's conditions and Events: CamelCase, stable, for alerts to match on. */
final class Reasons {

  static final String PLACED = "Placed";
  static final String INVALID_SPEC = "InvalidSpec";
  static final String STATISTICS_INVALID = "InitialStatisticsInvalid";
  static final String PINNED_REVISION_MISSING = "PinnedRevisionMissing";
  static final String WEIGHTS_FETCHING = "WeightsFetching";
  static final String WEIGHTS_FETCHED = "WeightsFetched";
  static final String WEIGHTS_UNAVAILABLE = "WeightsUnavailable";
  static final String WORKERS_STARTING = "WorkersStarting";
  static final String ALL_READY = "AllWorkersReady";
  static final String ROLLING_OUT = "RollingOut";
  static final String ROLLOUT_REFUSED = "RolloutRefused";
  static final String IDLE = "Idle";
  static final String STATISTICS_UNAVAILABLE = "StatisticsUnavailable";
  static final String WORKER_LOST = "WorkerLost";
  static final String HEALTHY = "Healthy";
  static final String API_ANSWERING = "ApiAnswering";
  static final String API_NOT_ANSWERING = "ApiNotAnswering";
  static final String NO_WORKER_READY = "NoWorkerReady";
  static final String API_KEY_MISSING = "ApiKeyMissing";
  static final String WORKER_REJOINING = "WorkerRejoining";
  static final String OWN_REVISIONS = "OwnRevisions";
  static final String REVISION_REFUSED = "RevisionRefused";
  /** An Event only: a pinned revision's placement re-staged under a new revision. */
  static final String ROLLBACK = "Rollback";
  static final String WORKERS_BACK = "WorkersBack";

  /** Reasons that make the model unservable until its spec or data changes. */
  static final Set<String> FAILED = Set.of(INVALID_SPEC, STATISTICS_INVALID, PINNED_REVISION_MISSING);

  /** Reasons reported as Warning Events. */
  static final Set<String> WARNINGS =
      Set.of(INVALID_SPEC, STATISTICS_INVALID, PINNED_REVISION_MISSING, ROLLOUT_REFUSED, STATISTICS_UNAVAILABLE,
          WORKER_LOST, API_NOT_ANSWERING, API_KEY_MISSING, REVISION_REFUSED, WEIGHTS_UNAVAILABLE);

  private Reasons() {}
}

package dev.moe.runtime.server;

import dev.moe.stats.RoutingStats;

/** What {@link HttpApi} serves: the worker behind it. */
public interface WorkerApi {

  /** Null when ready to serve steps; otherwise why not (loading, peers not connected, stopping). */
  String notReadyReason();

  /** The Prometheus text exposition. */
  byte[] metrics();

  String metricsContentType();

  /**
   * This worker's routing statistics since the last reset; {@code reset} starts a new period (of
   * counts and transitions both); without {@code transitions}, the counts only.
   */
  RoutingStats routingStats(boolean reset, boolean transitions);

  /**
   * Starts staging placement {@code version} from a placement JSON document; returns at once.
   *
   * @throws IllegalArgumentException the document or version is not acceptable (message says why)
   * @throws IllegalStateException another version is being staged
   */
  void stagePlacement(long version, byte[] placementJson);

  /** The placement versions' states as a JSON object. */
  String placementStatusJson();

  /** The placement document of the active version. */
  String activePlacementJson();
}

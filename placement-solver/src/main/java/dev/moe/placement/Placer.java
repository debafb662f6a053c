package dev.moe.placement;

import dev.moe.stats.RoutingStats;

/** Anything that places every layer's experts onto a cluster's slots. */
public interface Placer {

  /** A placement without a report; {@link PlacementEvaluator} adds one. */
  Placement place(RoutingStats stats, ClusterSpec cluster);
}

package dev.moe.operator.stats;

import dev.moe.crds.v1alpha1.MoEModel;
import dev.moe.stats.RoutingStats;
import java.time.Duration;
import java.util.Optional;

/**
 * Where the operator gets a model's routing statistics: the workers' authenticated {@code /stats}
 * in a cluster ({@link WorkerStatisticsScraper}); recorded statistics in tests and the local demo.
 */
public interface StatisticsSource {

  /**
   * The statistics of the last {@code window} of traffic, summed over the workers; empty while too
   * little has been observed to cover a window.
   *
   * @throws StatisticsUnavailableException when the workers cannot be read; its message says why
   */
  Optional<RoutingStats> window(MoEModel model, Duration window);
}

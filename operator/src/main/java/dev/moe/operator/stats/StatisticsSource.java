package dev.moe.operator.stats;

import dev.moe.crds.v1alpha1.MoEModel;
import java.time.Duration;
import java.util.Optional;
import java.util.Set;

/**
 * Where the operator gets a model's routing statistics: the workers' authenticated {@code /stats}
 * in a cluster ({@link WorkerStatisticsScraper}); recorded statistics in tests and the local demo.
 */
public interface StatisticsSource {

  /**
   * The statistics of the last {@code window} of traffic, summed over the workers that answered,
   * with its coverage; empty while too little has been observed to cover a window.
   *
   * @throws StatisticsUnavailableException when no worker can be read; its message says why
   */
  Optional<StatisticsWindow> window(MoEModel model, Duration window);

  /** Drops what is kept for models other than {@code modelUids}: deleted ones. */
  void retain(Set<String> modelUids);
}

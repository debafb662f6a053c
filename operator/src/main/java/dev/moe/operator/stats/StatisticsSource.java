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

  /**
   * Takes a sample between windows, when one is due ({@link #sampleInterval}): the samples split the
   * windows into intervals, in which a change of routing part-way shows ({@link ChangePoint}). A
   * source without a history of its own has nothing to sample.
   *
   * @throws StatisticsUnavailableException when no worker can be read; its message says why
   */
  default void sample(MoEModel model, Duration window) {}

  /**
   * How often to sample a {@code window}: a quarter of it, so that a change of routing part-way leaves
   * an interval or more wholly after it; never within 5 s, as each sample reads every worker's counts
   * (at DeepSeek-V3's size 144 workers x 58 x 256). Empty for a window too short to split.
   */
  static Optional<Duration> sampleInterval(Duration window) {
    Duration every = window.dividedBy(4);
    return every.compareTo(Duration.ofSeconds(5)) < 0 ? Optional.empty() : Optional.of(every);
  }

  /** Drops what is kept for models other than {@code modelUids}: deleted ones. */
  void retain(Set<String> modelUids);
}

package dev.moe.operator.stats;

import dev.moe.stats.RoutingStats;
import java.time.Instant;
import java.util.List;

/**
 * The statistics of a window of traffic, summed over the workers counted, and how much of the traffic
 * that was; {@code intervals}: the window's consecutive parts, each summed over the workers counted in
 * all of them, where its routing may have changed ({@link ChangePoint}); empty when it is one part.
 */
public record StatisticsWindow(RoutingStats stats, Coverage coverage, List<Interval> intervals) {

  /** A part of the window: the counts ([layers][experts]) from {@code start} to {@code end}. */
  public record Interval(Instant start, Instant end, double[][] counts) {}

  /** A window of one part. */
  public StatisticsWindow(RoutingStats stats, Coverage coverage) {
    this(stats, coverage, List.of());
  }
}

package dev.moe.operator.stats;

import dev.moe.stats.RoutingStats;

/** The statistics of a window of traffic, summed over the workers counted, and how much of the traffic that was. */
public record StatisticsWindow(RoutingStats stats, Coverage coverage) {}

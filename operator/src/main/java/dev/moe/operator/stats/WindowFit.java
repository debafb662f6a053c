package dev.moe.operator.stats;

import dev.moe.stats.RoutingStats;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.List;

/**
 * The part of a window that a re-plan is fitted on: all of it, or, when its routing changed part-way
 * ({@link ChangePoint}), the intervals wholly after the change, which the decision names; while the
 * change may still lie inside the last interval, nothing is known to be after it: the decision waits.
 *
 * @param window what to observe and fit on (the part after a change has the whole window's coverage)
 * @param shift the part chosen, for the decision ("the last 10 s (since 12:01:10 UTC), after a routing shift
 *     in the window (G 812 > 361)"); null for the whole window
 * @param settled false while the change may lie inside the last interval: then {@code shift} says why
 *     nothing is fitted yet, and {@code window} is that last interval, the newest routing there is
 */
public record WindowFit(StatisticsWindow window, String shift, boolean settled) {

  private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("HH:mm:ss").withZone(ZoneOffset.UTC);

  public static WindowFit of(StatisticsWindow window) {
    List<StatisticsWindow.Interval> intervals = window.intervals();
    var split = ChangePoint.find(intervals.stream().map(StatisticsWindow.Interval::counts).toList());
    if (split.isEmpty()) {
      return new WindowFit(window, null, true);
    }
    List<StatisticsWindow.Interval> after = intervals.subList(split.get().after(), intervals.size());
    Instant since = after.getFirst().start();
    String span = seconds(Duration.between(since, after.getLast().end())) + " (since " + TIME.format(since) + " UTC)";
    StatisticsWindow part = new StatisticsWindow(RoutingStats.ofCounts(ChangePoint.sum(
        after.stream().map(StatisticsWindow.Interval::counts).toList(), 0, after.size())), window.coverage());
    String test = String.format("G %.0f > %.0f", split.get().statistic(), split.get().threshold());
    return split.get().settled()
        ? new WindowFit(part, "the last " + span + ", after a routing shift in the window (" + test + ")", true)
        : new WindowFit(part, "ShiftSettling: the routing shifted within the window's last " + span + " (" + test
            + "); waiting for an interval wholly after the shift", false);
  }

  private static String seconds(Duration d) {
    return Math.round(d.toMillis() / 1e3) + " s";
  }
}

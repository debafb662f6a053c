package dev.moe.localcluster.scale;

import dev.moe.stats.RoutingStats;
import java.time.Duration;

/**
 * Routing counts as a group of workers would accumulate them serving recorded traffic: one
 * phase's measured counts per {@code period} until the shift, the other phase's after it, and
 * back at the next shift. Counts are cumulative, as a worker's {@code /stats} reports them.
 */
final class RecordedTraffic {

  private final RoutingStats before;
  private final RoutingStats after;
  private final double periodSeconds;
  private final long startNanos = System.nanoTime();
  /** Seconds of each phase before the last shift, and when it was; which phase runs since. */
  private double firstSeconds;
  private double secondSeconds;
  private double shiftAt;
  private boolean onSecond;

  RecordedTraffic(RoutingStats before, RoutingStats after, Duration period) {
    if (before.layers() != after.layers() || before.experts() != after.experts()) {
      throw new IllegalArgumentException("the two phases' statistics differ in shape: " + before.layers() + "x"
          + before.experts() + " and " + after.layers() + "x" + after.experts());
    }
    this.before = before;
    this.after = after;
    this.periodSeconds = period.toNanos() / 1e9;
  }

  double elapsedSeconds() {
    return (System.nanoTime() - startNanos) / 1e9;
  }

  /** From now on, the other phase's routing (the second's, at the first shift). */
  synchronized double shift() {
    double now = elapsedSeconds();
    if (onSecond) {
      secondSeconds += now - shiftAt;
    } else {
      firstSeconds += now - shiftAt;
    }
    onSecond = !onSecond;
    shiftAt = now;
    return now;
  }

  /** The counts so far, {@code 1 / parts} of them (one worker's share of the group's tokens). */
  double[][] cumulative(int parts) {
    double first;
    double second;
    synchronized (this) {
      double current = elapsedSeconds() - shiftAt;
      first = (firstSeconds + (onSecond ? 0 : current)) / periodSeconds / parts;
      second = (secondSeconds + (onSecond ? current : 0)) / periodSeconds / parts;
    }
    double[][] out = new double[before.layers()][before.experts()];
    for (int l = 0; l < out.length; l++) {
      double[] a = before.load(l);
      double[] b = after.load(l);
      for (int e = 0; e < out[l].length; e++) {
        out[l][e] = a[e] * first + b[e] * second;
      }
    }
    return out;
  }
}

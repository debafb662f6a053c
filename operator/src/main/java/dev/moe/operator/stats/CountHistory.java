package dev.moe.operator.stats;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Map;
import java.util.Optional;

/**
 * One model's timestamped per-worker counts (each worker's are cumulative since it started), and
 * the windows they close. A window sums, worker by worker, the counts since the newest snapshot at
 * least nine tenths of a window old. A worker whose counts went down (it restarted) or that was not
 * there then (a new pod) counts from zero, as all it counted since it started falls in the window;
 * the others keep their own base, so one worker's restart neither hides in the others' growth nor
 * throws their window away.
 */
final class CountHistory {

  /** Cumulative counts per worker (a pod's UID), [layers][experts]. */
  record Snapshot(Instant at, Map<String, double[][]> workers) {}

  private final Deque<Snapshot> snapshots = new ArrayDeque<>();

  /** Records {@code now} and returns the window it closes, if the history covers one. */
  synchronized Optional<double[][]> advance(Snapshot now, Duration window, int layers, int experts) {
    snapshots.addLast(now);
    // A snapshot taken up to a tenth of the window late still opens it: reconciles rescheduled one
    // window apart land a little early or late, and an exact edge would skip every other window.
    Instant start = now.at().minus(window.multipliedBy(9).dividedBy(10));
    Snapshot base = null;
    for (Snapshot s : snapshots) {
      if (!s.at().isAfter(start)) {
        base = s;
      }
    }
    if (base == null) {
      return Optional.empty();
    }
    double[][] sum = new double[layers][experts];
    for (var worker : now.workers().entrySet()) {
      double[][] from = baseOf(worker.getKey(), base);
      double[][] to = worker.getValue();
      for (int l = 0; l < layers; l++) {
        for (int e = 0; e < experts; e++) {
          sum[l][e] += to[l][e] - (from == null ? 0 : from[l][e]);
        }
      }
    }
    while (snapshots.peekFirst() != base) {
      snapshots.removeFirst();
    }
    return Optional.of(sum);
  }

  /**
   * The worker's counts at {@code base}, or null when it counts from zero: absent then, or its
   * counts went down at some snapshot since (a restart after the base).
   */
  private double[][] baseOf(String worker, Snapshot base) {
    double[][] previous = null;
    boolean after = false;
    for (Snapshot s : snapshots) {
      after |= s == base;
      if (!after) {
        continue;
      }
      double[][] counts = s.workers().get(worker);
      if (counts == null || (previous != null && decreased(previous, counts))) {
        return null;
      }
      previous = counts;
    }
    return base.workers().get(worker);
  }

  private static boolean decreased(double[][] before, double[][] after) {
    for (int l = 0; l < before.length; l++) {
      for (int e = 0; e < before[l].length; e++) {
        if (after[l][e] < before[l][e]) {
          return true;
        }
      }
    }
    return false;
  }
}

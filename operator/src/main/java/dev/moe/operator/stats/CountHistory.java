package dev.moe.operator.stats;

import dev.moe.stats.RoutingStats;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * One model's timestamped per-worker counts (each worker's are cumulative since it started), and
 * the windows they close. A window sums, worker by worker, the counts since the newest snapshot at
 * least nine tenths of a window old. A worker whose counts went down (it restarted) or that was not
 * there then (a new pod) counts from zero, as all it counted since it started falls in the window;
 * the others keep their own base, so one worker's restart neither hides in the others' growth nor
 * throws their window away. A worker that did not answer, now or at the window's start, is left
 * out of the window, which states its {@link Coverage}. Samples taken between windows split a window
 * into intervals, summed over the workers that answered every one of them without restarting: the
 * series in which {@link ChangePoint} looks for a change of routing.
 */
final class CountHistory {

  /**
   * Cumulative counts per worker (a pod's UID), [layers][experts], of those that answered; {@code
   * unanswered}: the others' UIDs, each with why.
   */
  record Snapshot(Instant at, Map<String, double[][]> workers, Map<String, String> unanswered) {}

  /** A worker's base: its counts at the window's start, zero, or not known (it did not answer then). */
  private static final double[][] UNKNOWN = new double[0][];

  private final Deque<Snapshot> snapshots = new ArrayDeque<>();
  /** Each worker's tokens in the last window it was counted in: the estimate of what it misses. */
  private final Map<String, Double> lastTokens = new HashMap<>();

  /** Whether a sample taken at {@code now} would be {@code every} or more after the newest (a tenth early counts). */
  synchronized boolean due(Instant now, Duration every) {
    return snapshots.isEmpty()
        || !snapshots.peekLast().at().isAfter(now.minus(every.multipliedBy(9).dividedBy(10)));
  }

  /** Records a sample, which splits the windows that will hold it; one older than the newest snapshot came late. */
  synchronized void sample(Snapshot now, Duration window) {
    if (!snapshots.isEmpty() && !now.at().isAfter(snapshots.peekLast().at())) {
      return;
    }
    snapshots.addLast(now);
    Snapshot base = base(now, window);
    if (base != null) {
      // No later window starts before it.
      trimTo(base);
    }
  }

  /** Records {@code now} and returns the window it closes, if the history covers one. */
  synchronized Optional<StatisticsWindow> advance(Snapshot now, Duration window, int layers, int experts) {
    // A sample read while this snapshot was being read, and recorded first, is dropped: the order is time's.
    while (!snapshots.isEmpty() && snapshots.peekLast().at().isAfter(now.at())) {
      snapshots.removeLast();
    }
    snapshots.addLast(now);
    Snapshot base = base(now, window);
    if (base == null) {
      return Optional.empty();
    }
    double[][] sum = new double[layers][experts];
    Map<String, Double> counted = new HashMap<>();
    List<String> missing = new ArrayList<>(now.unanswered().values());
    for (var worker : now.workers().entrySet()) {
      double[][] from = baseOf(worker.getKey(), base);
      if (from == UNKNOWN) {
        missing.add(base.unanswered().get(worker.getKey()) + " at the window's start");
        continue;
      }
      double[][] to = worker.getValue();
      double tokens = 0;
      for (int l = 0; l < layers; l++) {
        for (int e = 0; e < experts; e++) {
          double d = to[l][e] - (from == null ? 0 : from[l][e]);
          sum[l][e] += d;
          tokens += d;
        }
      }
      counted.put(worker.getKey(), tokens);
    }
    trimTo(base);
    Coverage coverage = coverage(now, counted, missing);
    lastTokens.keySet().retainAll(present(now));
    lastTokens.putAll(counted);
    return Optional.of(new StatisticsWindow(RoutingStats.ofCounts(sum), coverage, intervals(layers, experts)));
  }

  /**
   * The newest snapshot at least nine tenths of a window before {@code now}: a snapshot taken up to a
   * tenth of the window late still opens it, as reconciles rescheduled one window apart land a little
   * early or late, and an exact edge would skip every other window.
   */
  private Snapshot base(Snapshot now, Duration window) {
    Instant start = now.at().minus(window.multipliedBy(9).dividedBy(10));
    Snapshot base = null;
    for (Snapshot s : snapshots) {
      if (!s.at().isAfter(start)) {
        base = s;
      }
    }
    return base;
  }

  private void trimTo(Snapshot base) {
    while (snapshots.peekFirst() != base) {
      snapshots.removeFirst();
    }
  }

  /**
   * The intervals between the snapshots since the base (the first), summed over the workers that
   * answered all of them and never restarted: a worker's own traffic differs from the others', so one
   * that drops in or out would look like a change of routing. Empty for a window of one interval.
   */
  private List<StatisticsWindow.Interval> intervals(int layers, int experts) {
    List<Snapshot> all = List.copyOf(snapshots);
    if (all.size() < 3) {
      return List.of();
    }
    List<String> steady = new ArrayList<>();
    for (String w : all.getFirst().workers().keySet()) {
      boolean answered = true;
      for (int i = 1; i < all.size() && answered; i++) {
        double[][] to = all.get(i).workers().get(w);
        answered = to != null && !decreased(all.get(i - 1).workers().get(w), to);
      }
      if (answered) {
        steady.add(w);
      }
    }
    List<StatisticsWindow.Interval> intervals = new ArrayList<>();
    for (int i = 1; i < all.size(); i++) {
      double[][] counts = new double[layers][experts];
      for (String w : steady) {
        double[][] from = all.get(i - 1).workers().get(w);
        double[][] to = all.get(i).workers().get(w);
        for (int l = 0; l < layers; l++) {
          for (int e = 0; e < experts; e++) {
            counts[l][e] += to[l][e] - from[l][e];
          }
        }
      }
      intervals.add(new StatisticsWindow.Interval(all.get(i - 1).at(), all.get(i).at(), counts));
    }
    return intervals;
  }

  private Coverage coverage(Snapshot now, Map<String, Double> counted, List<String> missing) {
    int workers = now.workers().size() + now.unanswered().size();
    double seen = counted.values().stream().mapToDouble(Double::doubleValue).sum();
    double mean = counted.isEmpty() ? 0 : seen / counted.size();
    double estimated = 0;
    for (String worker : present(now)) {
      if (!counted.containsKey(worker)) {
        estimated += lastTokens.getOrDefault(worker, mean);
      }
    }
    // No traffic anywhere, seen or estimated: the share of workers is all there is to go by.
    double share = seen + estimated > 0 ? seen / (seen + estimated) : (double) counted.size() / workers;
    return new Coverage(counted.size(), workers, share, List.copyOf(missing));
  }

  private static List<String> present(Snapshot s) {
    List<String> all = new ArrayList<>(s.workers().keySet());
    all.addAll(s.unanswered().keySet());
    return all;
  }

  /**
   * The worker's counts at {@code base}; null when it counts from zero: absent then (a new pod), or
   * its counts went down between two answers since (a restart); {@link #UNKNOWN} when it did not
   * answer at {@code base}. A snapshot it did not answer in says nothing either way.
   */
  private double[][] baseOf(String worker, Snapshot base) {
    double[][] previous = null;
    boolean after = false;
    for (Snapshot s : snapshots) {
      after |= s == base;
      if (!after || s.unanswered().containsKey(worker)) {
        continue;
      }
      double[][] counts = s.workers().get(worker);
      if (counts == null || (previous != null && decreased(previous, counts))) {
        return null;
      }
      previous = counts;
    }
    return base.unanswered().containsKey(worker) ? UNKNOWN : base.workers().get(worker);
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

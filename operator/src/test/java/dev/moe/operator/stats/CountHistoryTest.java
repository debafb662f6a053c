package dev.moe.operator.stats;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Windows from per-worker cumulative counts: restarts and new workers counted on their own. */
class CountHistoryTest {

  private static final Instant T0 = Instant.parse("2026-12-05T00:00:00Z");
  private static final Duration WINDOW = Duration.ofSeconds(20);

  @Test
  void aWindowIsWhatEachWorkerCountedSinceItsStart() {
    CountHistory h = new CountHistory();
    assertTrue(h.advance(at(0, Map.of("a", counts(10, 0), "b", counts(0, 5))), WINDOW, 1, 2).isEmpty(),
        "one snapshot covers no window");
    double[][] w = h.advance(at(20, Map.of("a", counts(30, 1), "b", counts(2, 9))), WINDOW, 1, 2).orElseThrow();
    assertArrayEquals(counts(22, 5), w);
  }

  @Test
  void aRestartedWorkerCountsFromZeroWhileTheOthersKeepTheirBase() {
    CountHistory h = new CountHistory();
    h.advance(at(0, Map.of("a", counts(100, 100), "b", counts(50, 50))), WINDOW, 1, 2);
    // b restarted in between: its counts went down. Summed, the group's still grew (a hides b's restart):
    // a difference of sums would give 54 and 56, losing what b counted before its restart's base.
    h.advance(at(10, Map.of("a", counts(150, 150), "b", counts(1, 1))), WINDOW, 1, 2);
    double[][] w = h.advance(at(20, Map.of("a", counts(200, 200), "b", counts(4, 6))), WINDOW, 1, 2).orElseThrow();
    assertArrayEquals(counts(100 + 4, 100 + 6), w);
  }

  @Test
  void aNewWorkerCountsFromZeroAndAGoneOneNoLonger() {
    CountHistory h = new CountHistory();
    h.advance(at(0, Map.of("a", counts(10, 10), "old", counts(40, 40))), WINDOW, 1, 2);
    double[][] w = h.advance(at(20, Map.of("a", counts(20, 30), "new", counts(3, 0))), WINDOW, 1, 2).orElseThrow();
    assertArrayEquals(counts(10 + 3, 20), w);
  }

  @Test
  void theBaseIsTheNewestSnapshotAtLeastNineTenthsOfAWindowOld() {
    CountHistory h = new CountHistory();
    h.advance(at(0, Map.of("a", counts(0, 0))), WINDOW, 1, 2);
    h.advance(at(2, Map.of("a", counts(5, 0))), WINDOW, 1, 2);
    h.advance(at(15, Map.of("a", counts(7, 0))), WINDOW, 1, 2);
    // At 20 s the window starts at 2 s (20 - 18): the base is the snapshot of 2 s.
    assertArrayEquals(counts(10, 1), h.advance(at(20, Map.of("a", counts(15, 1))), WINDOW, 1, 2).orElseThrow());
  }

  private static CountHistory.Snapshot at(int seconds, Map<String, double[][]> workers) {
    return new CountHistory.Snapshot(T0.plusSeconds(seconds), workers);
  }

  private static double[][] counts(double... experts) {
    return new double[][] {experts};
  }
}

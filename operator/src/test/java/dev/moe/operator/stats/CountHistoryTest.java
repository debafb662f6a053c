package dev.moe.operator.stats;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Windows from per-worker cumulative counts: restarts and new workers counted on their own, workers
 * that do not answer left out with the coverage stated.
 */
class CountHistoryTest {

  private static final Instant T0 = Instant.parse("2026-12-05T00:00:00Z");
  private static final Duration WINDOW = Duration.ofSeconds(20);

  @Test
  void aWindowIsWhatEachWorkerCountedSinceItsStart() {
    CountHistory h = new CountHistory();
    assertTrue(h.advance(at(0, Map.of("a", counts(10, 0), "b", counts(0, 5))), WINDOW, 1, 2).isEmpty(),
        "one snapshot covers no window");
    double[][] w = h.advance(at(20, Map.of("a", counts(30, 1), "b", counts(2, 9))), WINDOW, 1, 2).orElseThrow()
        .stats().logicalCount();
    assertArrayEquals(counts(22, 5), w);
  }

  @Test
  void aRestartedWorkerCountsFromZeroWhileTheOthersKeepTheirBase() {
    CountHistory h = new CountHistory();
    h.advance(at(0, Map.of("a", counts(100, 100), "b", counts(50, 50))), WINDOW, 1, 2);
    // b restarted in between: its counts went down. Summed, the group's still grew (a hides b's restart):
    // a difference of sums would give 54 and 56, losing what b counted before its restart's base.
    h.advance(at(10, Map.of("a", counts(150, 150), "b", counts(1, 1))), WINDOW, 1, 2);
    double[][] w = h.advance(at(20, Map.of("a", counts(200, 200), "b", counts(4, 6))), WINDOW, 1, 2).orElseThrow()
        .stats().logicalCount();
    assertArrayEquals(counts(100 + 4, 100 + 6), w);
  }

  @Test
  void aNewWorkerCountsFromZeroAndAGoneOneNoLonger() {
    CountHistory h = new CountHistory();
    h.advance(at(0, Map.of("a", counts(10, 10), "old", counts(40, 40))), WINDOW, 1, 2);
    double[][] w = h.advance(at(20, Map.of("a", counts(20, 30), "new", counts(3, 0))), WINDOW, 1, 2).orElseThrow()
        .stats().logicalCount();
    assertArrayEquals(counts(10 + 3, 20), w);
  }

  @Test
  void theBaseIsTheNewestSnapshotAtLeastNineTenthsOfAWindowOld() {
    CountHistory h = new CountHistory();
    h.advance(at(0, Map.of("a", counts(0, 0))), WINDOW, 1, 2);
    h.advance(at(2, Map.of("a", counts(5, 0))), WINDOW, 1, 2);
    h.advance(at(15, Map.of("a", counts(7, 0))), WINDOW, 1, 2);
    // At 20 s the window starts at 2 s (20 - 18): the base is the snapshot of 2 s.
    assertArrayEquals(counts(10, 1), h.advance(at(20, Map.of("a", counts(15, 1))), WINDOW, 1, 2).orElseThrow()
        .stats().logicalCount());
  }

  @Test
  void aWorkerThatDoesNotAnswerIsLeftOutAndEstimatedAtItsLastWindow() {
    CountHistory h = new CountHistory();
    h.advance(at(0, Map.of("a", counts(0, 0), "b", counts(0, 0))), WINDOW, 1, 2);
    StatisticsWindow first = h.advance(at(20, Map.of("a", counts(60, 0), "b", counts(0, 20))), WINDOW, 1, 2)
        .orElseThrow();
    assertEquals(new Coverage(2, 2, 1.0, List.of()), first.coverage());
    // b answers 503: the window is a's alone, b estimated at its last window's 20 tokens.
    StatisticsWindow w = h.advance(at(40, Map.of("a", counts(120, 0)), Map.of("b", "w-1 /stats answered 503")),
        WINDOW, 1, 2).orElseThrow();
    assertArrayEquals(counts(60, 0), w.stats().logicalCount());
    assertEquals(new Coverage(1, 2, 0.75, List.of("w-1 /stats answered 503")), w.coverage());
    assertEquals("1 of 2 workers, 75% of the window's estimated tokens", w.coverage().describe());
  }

  @Test
  void aWorkerThatDidNotAnswerAtTheStartIsLeftOutAndThenCountsFromItsLastAnswer() {
    CountHistory h = new CountHistory();
    h.advance(at(0, Map.of("a", counts(0, 0), "b", counts(0, 0))), WINDOW, 1, 2);
    h.advance(at(20, Map.of("a", counts(10, 0)), Map.of("b", "w-1 /stats unreachable")), WINDOW, 1, 2);
    // b answers again with all it counted since 0: its base (20 s) is unknown, so it is left out, not counted twice.
    StatisticsWindow w = h.advance(at(40, Map.of("a", counts(30, 0), "b", counts(0, 50))), WINDOW, 1, 2)
        .orElseThrow();
    assertArrayEquals(counts(20, 0), w.stats().logicalCount());
    assertEquals(1, w.coverage().workersCounted());
    assertEquals(List.of("w-1 /stats unreachable at the window's start"), w.coverage().missing());
    // Never counted yet: estimated at the counted workers' mean.
    assertEquals(0.5, w.coverage().tokenShare(), 1e-9);
    StatisticsWindow next = h.advance(at(60, Map.of("a", counts(40, 0), "b", counts(0, 60))), WINDOW, 1, 2)
        .orElseThrow();
    assertArrayEquals(counts(10, 10), next.stats().logicalCount());
    assertEquals(Coverage.complete(2), next.coverage());
  }

  @Test
  void aRestartWhileUnansweredIsSeenAtItsNextAnswer() {
    CountHistory h = new CountHistory();
    h.advance(at(0, Map.of("a", counts(100, 100))), WINDOW, 1, 2);
    h.advance(at(10, Map.of(), Map.of("a", "w-0 /stats unreachable")), WINDOW, 1, 2);
    double[][] w = h.advance(at(20, Map.of("a", counts(3, 4))), WINDOW, 1, 2).orElseThrow().stats().logicalCount();
    assertArrayEquals(counts(3, 4), w);
  }

  @Test
  void samplesSplitTheWindowIntoIntervalsOfTheWorkersThatAnsweredThemAll() {
    CountHistory h = new CountHistory();
    h.advance(at(0, Map.of("a", counts(0, 0), "b", counts(0, 0), "c", counts(0, 0))), WINDOW, 1, 2);
    h.sample(at(5, Map.of("a", counts(5, 0), "b", counts(5, 0), "c", counts(5, 0))), WINDOW);
    // c does not answer the second sample, b restarts before the third: both are left out of the intervals.
    h.sample(at(10, Map.of("a", counts(10, 0), "b", counts(10, 0)), Map.of("c", "w-2 /stats answered 503")), WINDOW);
    h.sample(at(15, Map.of("a", counts(10, 5), "b", counts(0, 2), "c", counts(10, 5))), WINDOW);
    StatisticsWindow w = h.advance(at(20, Map.of("a", counts(10, 10), "b", counts(0, 4), "c", counts(10, 10))),
        WINDOW, 1, 2).orElseThrow();
    assertArrayEquals(counts(10 + 0 + 10, 10 + 4 + 10), w.stats().logicalCount());
    assertEquals(4, w.intervals().size());
    for (int i = 0; i < 4; i++) {
      assertArrayEquals(i < 2 ? counts(5, 0) : counts(0, 5), w.intervals().get(i).counts(), "interval " + i);
      assertEquals(T0.plusSeconds(5L * i), w.intervals().get(i).start());
      assertEquals(T0.plusSeconds(5L * i + 5), w.intervals().get(i).end());
    }
  }

  @Test
  void aSampleIsDueAQuarterOfTheWindowAfterTheLastAndTheHistoryKeepsOnlyWhatAWindowCanReach() {
    CountHistory h = new CountHistory();
    Duration every = Duration.ofSeconds(5);
    assertTrue(h.due(T0, every), "an empty history");
    h.advance(at(0, Map.of("a", counts(0, 0))), WINDOW, 1, 2);
    assertTrue(!h.due(T0.plusSeconds(4), every) && h.due(T0.plusMillis(4500), every), "a tenth early is due");
    for (int t = 5; t <= 60; t += 5) {
      h.sample(at(t, Map.of("a", counts(t, 0))), WINDOW);
    }
    // At 62 s the window starts at 44 s: from the sample of 40 s.
    StatisticsWindow w = h.advance(at(62, Map.of("a", counts(62, 0))), WINDOW, 1, 2).orElseThrow();
    assertArrayEquals(counts(22, 0), w.stats().logicalCount());
    assertEquals(T0.plusSeconds(40), w.intervals().getFirst().start());
  }

  @Test
  void aSampleReadWhileAWindowWasReadKeepsTheSnapshotsInTimesOrder() {
    CountHistory h = new CountHistory();
    h.advance(at(0, Map.of("a", counts(0, 0))), WINDOW, 1, 2);
    h.advance(at(10, Map.of("a", counts(10, 0))), WINDOW, 1, 2);
    // Read at 9 s, recorded after the window's snapshot of 10 s: dropped.
    h.sample(at(9, Map.of("a", counts(9, 0))), WINDOW);
    // Read at 15 s, recorded before the window's snapshot of 14 s: dropped by it.
    h.sample(at(15, Map.of("a", counts(15, 0))), WINDOW);
    h.advance(at(14, Map.of("a", counts(14, 0))), WINDOW, 1, 2);
    StatisticsWindow w = h.advance(at(20, Map.of("a", counts(20, 0))), WINDOW, 1, 2).orElseThrow();
    assertEquals(List.of(T0, T0.plusSeconds(10), T0.plusSeconds(14)),
        w.intervals().stream().map(StatisticsWindow.Interval::start).toList());
  }

  private static CountHistory.Snapshot at(int seconds, Map<String, double[][]> workers) {
    return at(seconds, workers, Map.of());
  }

  private static CountHistory.Snapshot at(int seconds, Map<String, double[][]> workers,
      Map<String, String> unanswered) {
    return new CountHistory.Snapshot(T0.plusSeconds(seconds), workers, unanswered);
  }

  private static double[][] counts(double... experts) {
    return new double[][] {experts};
  }
}

package dev.moe.placement.solve;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class LoadBoundTest {

  @Test
  void isTheMeanWhenSlotsAreAmple() {
    assertEquals(3.0, LoadBound.maxLoadLowerBound(new double[] {4, 1, 1}, 2, 4), 1e-9);
    // 9 needs 2 slots at L = 6 and 5 slots hold that: the mean stands.
    assertEquals(6.0, LoadBound.maxLoadLowerBound(new double[] {9, 1, 1, 1}, 2, 5), 1e-9);
  }

  @Test
  void risesWhenAHotExpertCannotGetEnoughReplicas() {
    // One slot per expert: the hot expert alone sets the bound.
    assertEquals(30.0, LoadBound.maxLoadLowerBound(new double[] {30, 1, 1}, 3, 3), 1e-9);
  }

  @Test
  void countsTheExpertsBesideAWholeOneWhenNoSlotIsSpare() {
    // 2 GPUs x 2 slots, 4 experts: 9 sits whole beside at least the smallest other expert.
    assertEquals(10.0, LoadBound.maxLoadLowerBound(new double[] {9, 1, 1, 1}, 2, 4), 1e-9);
    // 2 GPUs x 3 slots, 6 experts: 10 beside the two smallest, 1 and 2.
    assertEquals(13.0, LoadBound.maxLoadLowerBound(new double[] {10, 1, 2, 3, 3, 3}, 2, 6), 1e-9);
  }

  @Test
  void landsOnTheExactBreakpoint() {
    // 4 slots: 30 may take 2 of them, so L >= 30 / 2, above the mean of 8.
    assertEquals(15.0, LoadBound.maxLoadLowerBound(new double[] {30, 1, 1}, 4, 4), 1e-9);
  }
}

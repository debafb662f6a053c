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
    assertEquals(9.0, LoadBound.maxLoadLowerBound(new double[] {9, 1, 1, 1}, 2, 4), 1e-9);
    assertEquals(30.0, LoadBound.maxLoadLowerBound(new double[] {30, 1, 1}, 3, 3), 1e-9);
  }

  @Test
  void landsOnTheExactBreakpoint() {
    // 4 slots: 30 may take 2 of them, so L >= 30 / 2, above the mean of 8.
    assertEquals(15.0, LoadBound.maxLoadLowerBound(new double[] {30, 1, 1}, 4, 4), 1e-9);
  }
}

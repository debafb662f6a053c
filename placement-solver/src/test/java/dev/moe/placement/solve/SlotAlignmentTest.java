package dev.moe.placement.solve;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import org.junit.jupiter.api.Test;

class SlotAlignmentTest {

  @Test
  void keepsExpertsAGpuAlreadyHeldInTheirSlots() {
    int[] current = {1, 2, 3, 4, 5, 6};
    int[] proposed = {3, 9, 1, 6, 4, 5};
    // GPU 0 keeps 1 and 3 where they were; 9 takes the slot 2 left. GPU 1 is a pure reorder.
    assertArrayEquals(new int[] {1, 9, 3, 4, 5, 6}, SlotAlignment.align(current, proposed, 3));
  }
}

package dev.moe.runtime.layer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class DispatchTest {

  @Test
  void groupsChoicesByExpertInTokenOrder() {
    // 3 tokens, top-2: token 0 -> (2, 0), token 1 -> (0, 3), token 2 -> (2, 3).
    Routing r = new Routing(3, 2, new int[] {2, 0, 0, 3, 2, 3}, new float[6]);
    Dispatch d = Dispatch.byExpert(r, 4);
    assertEquals(6, d.rows());
    assertEquals(3, d.groups());
    assertArrayEquals(new int[] {0, 2, 3}, d.slotIds());
    assertArrayEquals(new long[] {0, 2, 4, 6}, d.offsets());
    // Expert 0: choices 1 (token 0) and 2 (token 1); expert 2: choices 0, 4; expert 3: choices 3, 5.
    assertArrayEquals(new int[] {1, 2, 0, 4, 3, 5}, d.choiceOfRow());
    assertArrayEquals(new int[] {2, 0, 1, 4, 3, 5}, d.rowOf());
    float[] x = {10, 11, 20, 21, 30, 31};
    assertArrayEquals(new float[] {10, 11, 20, 21, 10, 11, 30, 31, 20, 21, 30, 31}, d.gather(x, 2));
  }

  @Test
  void choicesRunElsewhereAreLeftOut() {
    Dispatch d = Dispatch.bySlot(new int[] {1, -1, -1, 1}, 2, 2, 2);
    assertEquals(2, d.rows());
    assertArrayEquals(new int[] {1}, d.slotIds());
    assertArrayEquals(new long[] {0, 2}, d.offsets());
    assertArrayEquals(new int[] {0, -1, -1, 1}, d.rowOf());
    assertThrows(IllegalArgumentException.class, () -> Dispatch.bySlot(new int[] {2}, 1, 1, 2));
  }
}

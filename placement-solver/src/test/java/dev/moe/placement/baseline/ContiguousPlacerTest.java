package dev.moe.placement.baseline;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.moe.placement.ClusterSpec;
import dev.moe.placement.Placement;
import dev.moe.stats.RoutingStats;
import org.junit.jupiter.api.Test;

class ContiguousPlacerTest {

  private static final RoutingStats FIVE = RoutingStats.ofCounts(new double[][] {{9, 1, 1, 1, 1}});

  @Test
  void givesEachGpuABlockAndFillsSpareSlotsWithItsOwnExperts() {
    Placement p = new ContiguousPlacer().place(FIVE, new ClusterSpec(2, 2, 3));
    // GPU 0: experts 0-2; GPU 1: experts 3-4 and a second replica of 3.
    assertArrayEquals(new int[] {0, 1, 2, 3, 4, 3}, p.physicalToLogical()[0]);
    assertEquals(0.5, p.replicaShares()[0][3], 1e-12);
    assertEquals(1.0, p.replicaShares()[0][4], 1e-12);
  }

  @Test
  void refusesBlocksLargerThanAGpu() {
    assertThrows(IllegalArgumentException.class, () -> new ContiguousPlacer().place(FIVE, new ClusterSpec(2, 2, 2)));
  }
}

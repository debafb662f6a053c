package dev.moe.placement.baseline;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moe.placement.ClusterSpec;
import dev.moe.placement.Placement;
import dev.moe.stats.RoutingStats;
import java.io.IOException;
import java.util.Locale;
import org.junit.jupiter.api.Test;

class ContiguousPlacerTest {

  private static Placement place(int experts, ClusterSpec cluster) {
    return new ContiguousPlacer().place(RoutingStats.ofCounts(new double[2][experts]), cluster);
  }

  @Test
  void givesEachGpuItsBlockAndFillsSpareSlotsWithItsOwnExperts() {
    // 8 experts on 4 GPUs: GPU g owns 2g and 2g + 1, its third slot repeats 2g.
    Placement p = place(8, new ClusterSpec(4, 2, 3));
    int[] map = {0, 1, 0, 2, 3, 2, 4, 5, 4, 6, 7, 6};
    double[] shares = {0.5, 1, 0.5, 0.5, 1, 0.5, 0.5, 1, 0.5, 0.5, 1, 0.5};
    for (int layer = 0; layer < 2; layer++) {
      assertArrayEquals(map, p.physicalToLogical()[layer]);
      assertArrayEquals(shares, p.replicaShares()[layer], 0);
    }
  }

  @Test
  void givesTheFirstGpusOneMoreExpertWhenGpusDoNotDivideExperts() {
    // 7 experts on 3 GPUs: blocks {0, 1, 2}, {3, 4}, {5, 6}; spare slots cycle through the block.
    Placement p = place(7, new ClusterSpec(3, 3, 4));
    assertArrayEquals(new int[] {0, 1, 2, 0, 3, 4, 3, 4, 5, 6, 5, 6}, p.physicalToLogical()[0]);
    assertArrayEquals(new double[] {0.5, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5},
        p.replicaShares()[0], 0);
  }

  @Test
  void refusesBlocksThatDoNotFitAGpu() {
    // 7 experts on 3 GPUs x 2 slots: the first block has 3 experts.
    assertThrows(IllegalArgumentException.class, () -> place(7, new ClusterSpec(3, 3, 2)));
    // Fewer experts than GPUs leaves a GPU with nothing to hold.
    assertThrows(IllegalArgumentException.class, () -> place(3, new ClusterSpec(4, 4, 2)));
  }

  @Test
  void keepsTheInvariantsOnDeepSeekV3() throws IOException {
    double[][] counts = Baselines.logicalCount(Baselines.deepSeekFile("decode_in1000out1000.json"));
    RoutingStats stats = RoutingStats.ofCounts(counts);
    for (ClusterSpec cluster : new ClusterSpec[] {
        new ClusterSpec(32, 8, 9), new ClusterSpec(64, 8, 5), new ClusterSpec(144, 8, 2)}) {
      Placement p = new ContiguousPlacer().place(stats, cluster);
      Baselines.assertValid(p, cluster, counts.length, counts[0].length);
      double b = Baselines.balancedness(counts, p);
      System.out.printf(Locale.ROOT, "contiguous, decode_in1000out1000, %d x %d: balancedness %.3f%n",
          cluster.gpus(), cluster.slotsPerGpu(), b);
      // Blind to traffic, it lands far below EPLB (0.21-0.35 measured here).
      assertTrue(b > 0.1 && b < 0.6, "balancedness " + b);
    }
  }
}

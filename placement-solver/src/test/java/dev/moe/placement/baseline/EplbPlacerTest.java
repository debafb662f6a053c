package dev.moe.placement.baseline;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moe.SharedData;
import dev.moe.placement.ClusterSpec;
import dev.moe.placement.Placement;
import dev.moe.placement.PlacementEvaluator;
import dev.moe.stats.RoutingStats;
import dev.moe.stats.RoutingStatsReader;
import org.junit.jupiter.api.Test;

class EplbPlacerTest {

  /** The example of DeepSeek's EPLB README: 2 layers x 12 experts, 16 slots, 4 groups, 2 nodes, 8 GPUs. */
  private static final double[][] README_WEIGHT = {
    {90, 132, 40, 61, 104, 165, 39, 4, 73, 56, 183, 86},
    {20, 107, 104, 64, 19, 197, 187, 157, 172, 86, 16, 27}
  };

  @Test
  void reproducesTheReadmeExampleHierarchically() {
    Placement p = new EplbPlacer(EplbPlacer.Mode.HIERARCHICAL, 4)
        .place(RoutingStats.ofCounts(README_WEIGHT), new ClusterSpec(8, 4, 2));
    assertArrayEquals(new int[] {5, 6, 5, 7, 8, 4, 3, 4, 10, 9, 10, 2, 0, 1, 11, 1}, p.physicalToLogical()[0]);
    assertArrayEquals(new int[] {7, 10, 6, 8, 6, 11, 8, 9, 2, 4, 5, 1, 5, 0, 3, 1}, p.physicalToLogical()[1]);
    // Equal shares: expert 5 of layer 0 has two replicas.
    assertEquals(0.5, p.replicaShares()[0][0], 1e-12);
    assertEquals(1.0, p.replicaShares()[0][1], 1e-12);
  }

  @Test
  void fallsBackToGlobalWhenNodesDoNotDivideGroups() {
    RoutingStats stats = RoutingStats.ofCounts(README_WEIGHT);
    ClusterSpec threeNodes = new ClusterSpec(6, 2, 3);
    Placement hierarchical = new EplbPlacer(EplbPlacer.Mode.HIERARCHICAL, 4).place(stats, threeNodes);
    Placement global = new EplbPlacer(EplbPlacer.Mode.GLOBAL, 1).place(stats, threeNodes);
    assertArrayEquals(global.physicalToLogical()[0], hierarchical.physicalToLogical()[0]);
  }

  @Test
  void replicatesTheHottestExpertsAndPacksEveryGpuFull() {
    // Global: 6 slots for 4 experts; 100 gets both spare slots (100/2 = 50 > 40 > 100/3).
    Placement p = new EplbPlacer(EplbPlacer.Mode.GLOBAL, 1)
        .place(RoutingStats.ofCounts(new double[][] {{100, 40, 10, 5}}), new ClusterSpec(3, 3, 2));
    int[] count = new int[4];
    for (int e : p.physicalToLogical()[0]) {
      count[e]++;
    }
    assertArrayEquals(new int[] {3, 1, 1, 1}, count);
  }

  @Test
  void matchesThePublishedFiguresOnDeepSeekV3() {
    RoutingStats stats =
        RoutingStatsReader.read(SharedData.routing("deepseek-v3-sglang/decode_in1000out1000.json"));
    ClusterSpec cluster = new ClusterSpec(32, 8, 9);
    double global = PlacementEvaluator.evaluate(
        stats, cluster, new EplbPlacer(EplbPlacer.Mode.GLOBAL, 1).place(stats, cluster), null, 0).balancedness();
    double hierarchical = PlacementEvaluator.evaluate(
        stats, cluster, new EplbPlacer(EplbPlacer.Mode.HIERARCHICAL, 8).place(stats, cluster), null, 0).balancedness();
    // Published: 0.993 global, 0.75-0.89 hierarchical at 32 GPUs / 4 nodes / 288 slots.
    assertEquals(0.993, global, 0.003);
    assertTrue(hierarchical > 0.74 && hierarchical < 0.90, "hierarchical " + hierarchical);
  }
}

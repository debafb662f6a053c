package dev.moe.placement.baseline;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moe.placement.ClusterSpec;
import dev.moe.placement.Placement;
import dev.moe.placement.baseline.EplbPlacer.Mode;
import dev.moe.stats.RoutingStats;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Test;

class EplbPlacerTest {

  /** The example of DeepSeek's EPLB README: 2 layers x 12 experts. */
  private static final double[][] README_WEIGHT = {
    {90, 132, 40, 61, 104, 165, 39, 4, 73, 56, 183, 86},
    {20, 107, 104, 64, 19, 197, 187, 157, 172, 86, 16, 27}
  };

  /** DeepSeek-V3 routes each token within 8 groups of 32 experts. */
  private static final int DEEPSEEK_GROUPS = 8;

  /** A placer on a cluster, with the balancedness range a correct EPLB reaches on DeepSeek-V3. */
  private record Setting(String label, EplbPlacer placer, ClusterSpec cluster, double min, double max) {}

  private static final List<Setting> SETTINGS = List.of(
      new Setting("global 32x9", new EplbPlacer(Mode.GLOBAL, 1), new ClusterSpec(32, 8, 9), 0.98, 1.0),
      new Setting("hier. 32x9", new EplbPlacer(Mode.HIERARCHICAL, DEEPSEEK_GROUPS), new ClusterSpec(32, 8, 9),
          0.70, 0.92),
      new Setting("global 64x5", new EplbPlacer(Mode.GLOBAL, 1), new ClusterSpec(64, 8, 5), 0.97, 1.0),
      new Setting("global 144x2", new EplbPlacer(Mode.GLOBAL, 1), new ClusterSpec(144, 8, 2), 0.75, 0.92),
      // One group per node: each group is stuck on its own node, whatever its load.
      new Setting("hier. 64x5", new EplbPlacer(Mode.HIERARCHICAL, DEEPSEEK_GROUPS), new ClusterSpec(64, 8, 5),
          0.35, 0.75));

  private static Placement place(Mode mode, int groups, double[][] weight, ClusterSpec cluster) {
    return new EplbPlacer(mode, groups).place(RoutingStats.ofCounts(weight), cluster);
  }

  @Test
  void reproducesTheReadmeExample() {
    // num_replicas=16, num_groups=4, num_nodes=2, num_gpus=8: 2 slots per GPU, 4 GPUs per node.
    // Its only equal weights are replicas of one expert, so the output does not hang on tie-breaks.
    Placement p = place(Mode.HIERARCHICAL, 4, README_WEIGHT, new ClusterSpec(8, 4, 2));
    int[][] readmeOutput = {
      {5, 6, 5, 7, 8, 4, 3, 4, 10, 9, 10, 2, 0, 1, 11, 1},
      {7, 10, 6, 8, 6, 11, 8, 9, 2, 4, 5, 1, 5, 0, 3, 1}
    };
    assertArrayEquals(readmeOutput, p.physicalToLogical());
    // Expert 5 of layer 0 has two replicas, expert 6 one.
    assertEquals(0.5, p.replicaShares()[0][0], 0);
    assertEquals(1.0, p.replicaShares()[0][1], 0);
    Baselines.assertValid(p, new ClusterSpec(8, 4, 2), 2, 12);
  }

  @Test
  void globalReplicatesByLoadPerReplicaThenPacksHeaviestFirst() {
    // replicate_experts: 100 > 40 takes slot 4, then 100/2 = 50 > 40 takes slot 5:
    // phy2log [0 1 2 3 0 0], load per replica [33.3 40 10 5 33.3 33.3].
    // balanced_packing, 3 GPUs x 2, order 40 (phy 1), 33.3 (phy 0, 4, 5 by index), 10, 5:
    // phy 1 -> GPU 0, phy 0 -> GPU 1, phy 4 -> GPU 2, phy 5 -> GPU 1 (33.3, first of the lightest),
    // phy 2 -> GPU 2 (GPU 1 is full), phy 3 -> GPU 0.
    Placement p = place(Mode.GLOBAL, 1, new double[][] {{100, 40, 10, 5}}, new ClusterSpec(3, 3, 2));
    assertArrayEquals(new int[] {1, 3, 0, 0, 0, 2}, p.physicalToLogical()[0]);
    assertArrayEquals(new double[] {1, 1, 1.0 / 3, 1.0 / 3, 1.0 / 3, 1}, p.replicaShares()[0], 1e-15);
  }

  @Test
  void putsGroupIOnNodeIWhenEachNodeTakesOneGroup() {
    // balanced_packing skips the greedy for one item per pack: group 0 (load 3) stays on node 0
    // although group 1 (load 30) is heavier. Within each node the hotter expert gets the spare slot.
    Placement p = place(Mode.HIERARCHICAL, 2, new double[][] {{1, 2, 10, 20}}, new ClusterSpec(2, 1, 3));
    assertArrayEquals(new int[] {0, 1, 1, 2, 3, 3}, p.physicalToLogical()[0]);
  }

  @Test
  void putsReplicaIOnGpuIWhenEachGpuTakesOneSlot() {
    Placement p = place(Mode.GLOBAL, 1, new double[][] {{1, 5, 3}}, new ClusterSpec(3, 3, 1));
    assertArrayEquals(new int[] {0, 1, 2}, p.physicalToLogical()[0]);
  }

  @Test
  void fallsBackToGlobalWhenNodesDoNotDivideGroups() {
    ClusterSpec threeNodes = new ClusterSpec(6, 2, 3);
    Placement hierarchical = place(Mode.HIERARCHICAL, 4, README_WEIGHT, threeNodes);
    Placement global = place(Mode.GLOBAL, 1, README_WEIGHT, threeNodes);
    assertArrayEquals(global.physicalToLogical(), hierarchical.physicalToLogical());
  }

  @Test
  void mapsAnAllZeroLayerToo() {
    // Every ratio is 0, so expert 0 takes both spare slots; all-equal weights pack in index order.
    Placement p = place(Mode.GLOBAL, 1, new double[][] {{0, 0, 0, 0}}, new ClusterSpec(2, 2, 3));
    assertArrayEquals(new int[] {0, 1, 2, 3, 0, 0}, p.physicalToLogical()[0]);
    Baselines.assertValid(p, new ClusterSpec(2, 2, 3), 1, 4);
  }

  @Test
  void refusesImpossibleClusters() {
    assertThrows(IllegalArgumentException.class,
        () -> place(Mode.GLOBAL, 1, README_WEIGHT, new ClusterSpec(5, 5, 2)));
    // 12 experts do not split into 5 groups.
    assertThrows(IllegalArgumentException.class,
        () -> place(Mode.HIERARCHICAL, 5, README_WEIGHT, new ClusterSpec(2, 2, 6)));
    assertThrows(IllegalArgumentException.class, () -> new EplbPlacer(Mode.HIERARCHICAL, 0));
  }

  @Test
  void keepsTheInvariantsOnDeepSeekV3() throws IOException {
    double[][] counts = Baselines.logicalCount(Baselines.deepSeekFile("decode_in1000out1000.json"));
    RoutingStats stats = RoutingStats.ofCounts(counts);
    for (Setting setting : SETTINGS) {
      Placement p = setting.placer().place(stats, setting.cluster());
      Baselines.assertValid(p, setting.cluster(), counts.length, counts[0].length);
    }
  }

  @Test
  void placesAllLayersOf144GpusWellUnderASecond() throws IOException {
    RoutingStats stats = RoutingStats.ofCounts(
        Baselines.logicalCount(Baselines.deepSeekFile("decode_in1000out1000.json")));
    ClusterSpec cluster = new ClusterSpec(144, 8, 2);
    EplbPlacer placer = new EplbPlacer(Mode.GLOBAL, 1);
    long start = System.nanoTime();
    placer.place(stats, cluster);
    double seconds = (System.nanoTime() - start) / 1e9;
    System.out.printf(Locale.ROOT, "EPLB, 61 layers at 144 GPUs x 2 slots, cold: %.3f s%n", seconds);
    assertTrue(seconds < 1, "took " + seconds + " s");
  }

  @Test
  void balancesDeepSeekV3AsPublished() throws IOException {
    // Published for DeepSeek-V3: ~0.993 global and 0.75-0.89 hierarchical at 32 GPUs (4 nodes) x 9,
    // ~0.98 at 64 x 5, 0.79-0.87 at 144 x 2 (18 nodes: hierarchical falls back to global). The
    // ranges are loose: they catch a broken port, not a different tie-break.
    StringBuilder table = new StringBuilder("| file |");
    SETTINGS.forEach(s -> table.append(' ').append(s.label()).append(" |"));
    table.append('\n').append("|---|").append("---|".repeat(SETTINGS.size())).append('\n');
    List<String> failures = new ArrayList<>();
    for (Path file : Baselines.deepSeekFiles()) {
      double[][] counts = Baselines.logicalCount(file);
      RoutingStats stats = RoutingStats.ofCounts(counts);
      String name = file.getFileName().toString().replaceFirst("\\.json$", "");
      table.append("| ").append(name).append(" |");
      for (Setting s : SETTINGS) {
        double b = Baselines.balancedness(counts, s.placer().place(stats, s.cluster()));
        table.append(String.format(Locale.ROOT, " %.3f |", b));
        if (b < s.min() || b > s.max()) {
          failures.add(String.format(
              Locale.ROOT, "%s %s: %.4f not in [%.2f, %.2f]", name, s.label(), b, s.min(), s.max()));
        }
      }
      table.append('\n');
    }
    System.out.print("EPLB balancedness on DeepSeek-V3 (GPUs x slots per GPU, 8 GPUs per node)\n" + table);
    assertTrue(failures.isEmpty(), String.join("\n", failures));
  }
}

package dev.moe.runtime.rebalance;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moe.placement.InvalidPlacementException;
import dev.moe.placement.Placement;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Slot tables, replica choice, the default placement and the staging budget: no native code. */
class SlotTableTest {

  @Test
  void replicaChoiceFollowsTheSharesFromTheFirstTokens() {
    // Expert 0 on slots 0, 4, 5 with 0.5, 0.3, 0.2; expert 1 on slot 1 alone.
    ReplicaChooser chooser = new ReplicaChooser(new int[][] {{0, 4, 5}, {1}}, new double[][] {{.5, .3, .2}, {1}});
    int[] count = new int[6];
    for (int n = 1; n <= 1000; n++) {
      count[chooser.choose(0)]++;
      // Low discrepancy: after every pick each replica is within one token of its share.
      assertTrue(Math.abs(count[0] - .5 * n) < 1 && Math.abs(count[4] - .3 * n) < 1 && Math.abs(count[5] - .2 * n) < 1,
          n + ": " + count[0] + " " + count[4] + " " + count[5]);
    }
    assertEquals(1, chooser.choose(1));
    ReplicaChooser zero = new ReplicaChooser(new int[][] {{2, 3}}, new double[][] {{0, 1}});
    for (int n = 0; n < 10; n++) {
      assertEquals(3, zero.choose(0), "a replica with share 0 never serves");
    }
  }

  @Test
  void roundRobinPadsWithZeroShareReplicas() {
    Placement p = Placements.roundRobin(2, 6, 4);
    assertEquals(2, p.slotsPerGpu());
    // GPU g holds experts g and g + 4; GPUs 2 and 3 pad their second slot.
    assertArrayEquals(new int[] {0, 4, 1, 5, 2, 2, 3, 3}, p.physicalToLogical()[0]);
    assertArrayEquals(new double[] {1, 1, 1, 1, 1, 0, 1, 0}, p.replicaShares()[1]);
    SlotTable t = SlotTable.of(1, p, 2, 4, 2, 6, l -> true, "rr");
    assertArrayEquals(new int[] {2, 2}, t.localExperts(0));
    assertArrayEquals(new int[] {4, 5}, t.replicas(0, 2));
    assertEquals(3, t.ownerOf(7));
    assertEquals(1, t.localIndex(7));
  }

  @Test
  void placementsThatDoNotFitAreRefusedWithTheReason() {
    Placement p = Placements.roundRobin(2, 8, 2);
    assertTrue(assertThrows(InvalidPlacementException.class, () -> SlotTable.of(2, p, 0, 4, 2, 8, l -> true, "v2"))
        .getMessage().contains("v2: it places 8 slots at 4 per GPU, for 2.0 GPUs, but the group has 4 workers"));
    assertTrue(assertThrows(InvalidPlacementException.class, () -> SlotTable.of(2, p, 0, 2, 3, 8, l -> true, "v2"))
        .getMessage().contains("it has 2 layers, the model has 3"));
    assertTrue(assertThrows(InvalidPlacementException.class, () -> SlotTable.of(2, p, 0, 2, 2, 16, l -> true, "v2"))
        .getMessage().contains("layer 0 has no slot for expert 8"));
    assertTrue(assertThrows(InvalidPlacementException.class, () -> SlotTable.of(2, p, 0, 2, 2, 4, l -> true, "v2"))
        .getMessage().contains("physical_to_logical_map[0][2] is 4, but the model has 4 experts"));
    // A dense layer's row is not looked at.
    SlotTable.of(2, p, 0, 2, 2, 16, l -> false, "v2");
    // The operator's form: rows for the MoE layers only (here layers 1 and 3 of 4), indexed by model layer.
    Placement moeOnly = new Placement(4, new int[][] {{0, 1, 2, 3, 4, 5, 6, 7}, {7, 6, 5, 4, 3, 2, 1, 0}},
        new double[][] {{1, 1, 1, 1, 1, 1, 1, 1}, {1, 1, 1, 1, 1, 1, 1, 1}}, null);
    SlotTable t = SlotTable.of(2, moeOnly, 1, 2, 4, 8, l -> l % 2 == 1, "v2");
    assertArrayEquals(new int[] {4, 5, 6, 7}, t.localExperts(1));
    assertArrayEquals(new int[] {3, 2, 1, 0}, t.localExperts(3));
    assertTrue(assertThrows(InvalidPlacementException.class, () -> SlotTable.of(2, moeOnly, 0, 2, 3, 8, l -> true, "v2"))
        .getMessage().contains("it has 2 layers, the model has 3 (dense layers included, as in SGLang's files) of which 3"));
    int[] map = {0, 1, 2, 3, 0, 1, 2, 3};
    double[] shares = {.5, .5, .5, .5, .5, .5, .5, .4};
    Placement off = new Placement(4, new int[][] {map}, new double[][] {shares}, null);
    assertTrue(assertThrows(InvalidPlacementException.class, () -> SlotTable.of(2, off, 0, 2, 1, 4, l -> true, "v2"))
        .getMessage().contains("the shares of expert 3's slots sum to 0.9"));
  }

  @Test
  void budgetAllowsOneStepsWorthPerStepAndRenewsWhenIdle() throws InterruptedException {
    StepBudget budget = new StepBudget(100, 200, TimeUnit.MILLISECONDS);
    budget.take(60);
    budget.stepStarted();
    long start = System.nanoTime();
    Thread stepper = new Thread(() -> {
      try {
        Thread.sleep(50);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      budget.stepDone();
    });
    stepper.start();
    // 40 left: 60 more must wait for the step boundary, not for the idle renewal.
    budget.take(60);
    double waited = (System.nanoTime() - start) / 1e6;
    assertTrue(waited >= 45 && waited < 190, "waited " + waited + " ms");
    stepper.join();
    // No step runs: after the idle time the budget renews by itself; a transfer bigger than the
    // budget takes a whole budget instead of waiting forever.
    start = System.nanoTime();
    budget.take(1000);
    budget.take(1000);
    double idle = (System.nanoTime() - start) / 1e6;
    assertTrue(idle >= 150 && idle < 1000, "renewed after " + idle + " ms");
  }
}

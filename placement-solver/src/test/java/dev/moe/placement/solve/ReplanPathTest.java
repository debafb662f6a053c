package dev.moe.placement.solve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moe.placement.ClusterSpec;
import dev.moe.placement.Placement;
import dev.moe.placement.PlacementEvaluator;
import dev.moe.placement.PlacementReport;
import dev.moe.stats.RoutingStats;
import java.time.Duration;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** Budgeted steps along a re-plan path, on a traffic shift small enough to solve exactly. */
class ReplanPathTest {

  private static final SolverOptions FAST = SolverOptions.defaults().withTimeLimit(Duration.ofSeconds(2));
  /** Two slots per GPU, as DeepSeek-V3 at 144 GPUs: 64 experts, 16 redundant slots. */
  private static final ClusterSpec CLUSTER = new ClusterSpec(40, 8, 2);
  /** A tenth of the replicas. */
  private static final int BUDGET = 16;
  /** On-node shares may give up this much of the best max load (LocalShares). */
  private static final double SHARES = 1e-5;

  /** Two layers of skewed loads on 64 experts; another seed puts the hot loads on other experts. */
  private static RoutingStats traffic(long seed) {
    SplittableRandom random = new SplittableRandom(seed);
    double[][] counts = new double[2][64];
    for (double[] layer : counts) {
      for (int e = 0; e < layer.length; e++) {
        layer[e] = Math.floor(1 + 400 * Math.pow(random.nextDouble(), 3));
      }
    }
    return RoutingStats.ofCounts(counts);
  }

  @Test
  void budgetedStepsClimbToTheTarget() {
    RoutingStats shifted = traffic(2);
    Placement served = new PlacementSolver(FAST).solve(traffic(1), CLUSTER, null);
    Placement target = new PlacementSolver(FAST).solve(shifted, CLUSTER, null);
    double before = PlacementEvaluator.evaluate(shifted, CLUSTER, served, null, 0).balancedness();
    assertTrue(before < target.report().balancedness() - 0.05, "the shift must leave room to climb: " + before);
    ReplanPath path = new ReplanPath(FAST.withMaxMoves(BUDGET));
    double last = before;
    ReplanPath.Step step = null;
    int steps = 0;
    while (steps < 12 && (step == null || step.movesLeft() > 0)) {
      step = path.plan(shifted, CLUSTER, served, target);
      PlacementReport r = step.placement().report();
      steps++;
      assertTrue(r.replicasMoved() <= BUDGET, "step " + steps + " moved " + r.replicasMoved());
      assertTrue(r.balancedness() >= last - SHARES, "step " + steps + ": " + last + " -> " + r.balancedness());
      // Relabelling the target's GPUs keeps its balance; a layer within CLOSE_ENOUGH of it is done.
      assertTrue(r.targetBalancedness() >= target.report().balancedness() * (1 - ReplanPath.CLOSE_ENOUGH) - SHARES,
          "target " + r.targetBalancedness());
      last = r.balancedness();
      served = step.placement();
    }
    assertEquals(0, step.movesLeft(), "the path ends at the target within 12 steps");
    assertEquals(step.placement().report().targetBalancedness(), last, SHARES);
    assertTrue(steps > 1, "the budget must take more than one step");
  }

  @Test
  void stepIsNoWorseThanTheBudgetedSearchFromTheServedPlacement() {
    // Four slots per GPU, as at 32 x 9: the search's moves gain most per replica and start the step.
    ClusterSpec roomy = new ClusterSpec(24, 4, 4);
    RoutingStats shifted = traffic(4);
    Placement served = new PlacementSolver(FAST).solve(traffic(3), roomy, null);
    Placement local = new PlacementSolver(FAST.withMaxMoves(BUDGET)).solve(shifted, roomy, served);
    ReplanPath.Step step = new ReplanPath(FAST.withMaxMoves(BUDGET)).plan(shifted, roomy, served);
    assertTrue(step.placement().report().balancedness() >= local.report().balancedness() - SHARES,
        step.placement().report().balancedness() + " < " + local.report().balancedness());
    assertTrue(step.placement().report().replicasMoved() <= BUDGET);
  }

  @Test
  void unlimitedBudgetGoesAllTheWay() {
    RoutingStats shifted = traffic(6);
    Placement served = new PlacementSolver(FAST).solve(traffic(5), CLUSTER, null);
    ReplanPath.Step step = new ReplanPath(FAST).plan(shifted, CLUSTER, served);
    assertEquals(0, step.movesLeft());
    assertEquals(step.placement().report().targetBalancedness(), step.placement().report().balancedness(), SHARES);
  }

  @Test
  void relabellingKeepsWhatEachGpuAlreadyHolds() {
    int[] served = {0, 1, 2, 3, 4, 5};
    // The same GPU contents in another GPU order, one replica changed: only that one is fetched.
    int[] target = {4, 5, 0, 1, 3, 2};
    target[5] = 0;
    int[] relabelled = GpuRelabel.relabel(served, target, 2);
    assertEquals(1, PlacementEvaluator.replicasMoved(served, relabelled, 2));
  }
}

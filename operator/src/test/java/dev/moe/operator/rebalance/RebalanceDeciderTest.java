package dev.moe.operator.rebalance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moe.crds.v1alpha1.ChurnStatus;
import dev.moe.crds.v1alpha1.Decision;
import dev.moe.crds.v1alpha1.MoEModel;
import dev.moe.operator.placement.ModelLayout;
import dev.moe.operator.stats.Coverage;
import dev.moe.operator.stats.StatisticsWindow;
import dev.moe.operator.testing.Models;
import dev.moe.operator.testing.RecordedStatistics;
import dev.moe.placement.Placement;
import dev.moe.placement.solve.PlacementSolver;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The decision on a window where the traffic moved to another expert (a re-plan would gain a lot):
 * declined on a window that saw too little, or when the churn budget's period is used up; planned
 * within the replicas the period has left.
 */
class RebalanceDeciderTest {

  private static final Instant NOW = Instant.parse("2026-12-05T00:00:00Z");

  private final ModelLayout layout;
  private final RebalanceRules rules;
  private final Placement current;

  RebalanceDeciderTest() {
    MoEModel model = Serialization.unmarshal(Models.small("ns", "small", 4, """
        placement: {timeLimit: 1s}
        rebalancing: {statisticsWindow: 1s, minInterval: 1s, minPredictedGain: 0.05, coolDown: 1s, moveBudget: 20,
                      minStatisticsCoverage: 0.75, churnBudget: {period: 20s, maxRebalances: 3, maxReplicasMoved: 40}}
        """), MoEModel.class);
    layout = ModelLayout.of(model.getSpec());
    rules = RebalanceRules.of(model.getSpec().getRebalancing(), layout.layers(), layout.cluster().slots());
    current = new PlacementSolver(layout.options()).solve(RecordedStatistics.oneHotExpert(0), layout.cluster(), null);
  }

  @Test
  void aFullWindowWithRoomInTheBudgetRebalances() {
    RebalanceDecider.Verdict v = decide(new Coverage(3, 4, 0.8, List.of()), ledger());
    assertEquals(Decision.TAKEN, v.decision(), v.reason());
    assertTrue(v.replicasMoved() > 4 && v.replicasMoved() <= 20, "moved " + v.replicasMoved());
  }

  @Test
  void aStepIsJudgedByWhereItsPathLeads() {
    // One replica per rebalance: the step alone gains less than minPredictedGain, the path much more.
    RebalanceRules oneMove = new RebalanceRules(rules.mode(), rules.window(), rules.minInterval(), rules.trigger(),
        rules.minGain(), rules.coolDown(), 1, rules.minCoverage(), rules.churn());
    var window = new StatisticsWindow(RecordedStatistics.oneHotExpert(15), Coverage.complete(4));
    var outcome = RebalanceDecider.decide(oneMove, layout.options(), layout.cluster(), window, current, null, ledger(),
        NOW);
    RebalanceDecider.Verdict v = outcome.verdict().orElseThrow();
    assertEquals(Decision.TAKEN, v.decision(), v.reason());
    assertEquals(1, v.replicasMoved());
    assertTrue(v.predictedGain() > 0 && v.predictedGain() < rules.minGain(), "step gain " + v.predictedGain());
    double target = v.plan().report().targetBalancedness();
    assertTrue(target - outcome.observed() >= rules.minGain(), "target " + target);
    assertTrue(v.reason().matches("Rebalanced: balancedness 0\\.\\d{4} -> 0\\.\\d{4}, a step towards \\d\\.\\d{4}"
        + " \\(\\d+ replicas left\\)"), v.reason());
  }

  @Test
  void aWindowBelowTheCoverageFloorIsDeclined() {
    assertEquals("LowCoverage: the window saw 2 of 4 workers, 50% of the window's estimated tokens, below"
        + " rebalancing.minStatisticsCoverage 0.75", decide(new Coverage(2, 4, 0.5, List.of()), ledger()).reason());
  }

  @Test
  void aPeriodWithItsRebalancesUsedDeclines() {
    RebalanceDecider.Verdict v = decide(Coverage.complete(4), ledger(1, 1, 1));
    assertEquals(Decision.DECLINED, v.decision());
    assertEquals("ChurnBudget: 3 rebalances in the last 20s, the most rebalancing.churnBudget.maxRebalances allows",
        v.reason());
  }

  @Test
  void aPeriodWithItsReplicasUsedDeclines() {
    assertEquals("ChurnBudget: 40 replicas moved in the last 20s, the most rebalancing.churnBudget.maxReplicasMoved"
        + " allows", decide(Coverage.complete(4), ledger(30, 10)).reason());
  }

  @Test
  void aRebalancePlansWithinTheReplicasThePeriodHasLeft() {
    RebalanceDecider.Verdict v = decide(Coverage.complete(4), ledger(36));
    assertTrue(v.replicasMoved() <= 4, v.replicasMoved() + " moved: " + v.reason());
    assertTrue(v.decision() == Decision.TAKEN || v.reason().endsWith("moving at most the 4 replicas the churn budget"
        + " has left"), v.reason());
  }

  @Test
  void rebalancesOlderThanThePeriodNoLongerCount() {
    ChurnStatus status = new ChurnStatus();
    status.setRecent(List.of(new ChurnStatus.Rebalanced(NOW.minusSeconds(25).toString(), 30),
        new ChurnStatus.Rebalanced(NOW.minusSeconds(5).toString(), 12)));
    ChurnLedger ledger = ChurnLedger.of(status, rules.churn(), NOW);
    assertEquals(1, ledger.rebalances());
    assertEquals(12, ledger.replicasMoved());
    ChurnStatus reported = ledger.plus(NOW, 8).toStatus(rules.churn());
    assertEquals(List.of(2, 20, 3, 40, "20s"), List.of(reported.getRebalances(), reported.getReplicasMoved(),
        reported.getMaxRebalances(), reported.getMaxReplicasMoved(), reported.getPeriod()));
  }

  private RebalanceDecider.Verdict decide(Coverage coverage, ChurnLedger ledger) {
    var window = new StatisticsWindow(RecordedStatistics.oneHotExpert(15), coverage);
    var outcome = RebalanceDecider.decide(rules, layout.options(), layout.cluster(), window, current, null, ledger,
        NOW);
    assertTrue(outcome.observed() < rules.trigger(), "the traffic moved: observed " + outcome.observed());
    return outcome.verdict().orElseThrow();
  }

  /** Rebalances within the period, moving these replicas. */
  private static ChurnLedger ledger(int... moved) {
    ChurnLedger ledger = new ChurnLedger(List.of());
    for (int m : moved) {
      ledger = ledger.plus(NOW.minusSeconds(10), m);
    }
    return ledger;
  }
}

package dev.moe.operator.reconcile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moe.crds.v1alpha1.Decision;
import dev.moe.crds.v1alpha1.ExpertPlacement;
import dev.moe.crds.v1alpha1.MoEModel;
import dev.moe.crds.v1alpha1.RebalanceDecision;
import dev.moe.operator.placement.ModelLayout;
import dev.moe.operator.placement.PlacementRevisions;
import dev.moe.operator.testing.Models;
import dev.moe.operator.testing.OperatorTestBase;
import dev.moe.operator.testing.RecordedStatistics;
import dev.moe.operator.testing.Scenario;
import dev.moe.placement.PlacementEvaluator;
import dev.moe.stats.RoutingStats;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Windows whose routing moved part-way, from one hot expert to another: the re-plan is fitted on the
 * intervals after the move, and its decision says so; while the move may lie inside the last interval,
 * the decision waits.
 */
class ShiftedWindowTest extends OperatorTestBase {

  private static final RoutingStats BEFORE = RecordedStatistics.oneHotExpert(0);
  private static final RoutingStats AFTER = RecordedStatistics.oneHotExpert(15);

  private static String model(Scenario s, String name) {
    return Models.small(s.ns, name, 4, """
        placement: {timeLimit: 1s}
        rebalancing: {mode: Auto, statisticsWindow: 4s, minInterval: 1s, triggerBalancedness: 0.9,
                      minPredictedGain: 0.05, coolDown: 1m, moveBudget: 20}
        """);
  }

  private Scenario servingBefore(String ns) {
    Scenario s = new Scenario(client, ns);
    operator.statistics.serve(BEFORE);
    s.apply(model(s, "small"));
    s.readyWorkers("small", 4);
    s.await("small", Duration.ofSeconds(60), m -> m.getStatus() != null && m.getStatus().getCurrentPlacement() != null
        && m.getStatus().getCurrentPlacement().getObservedBalancedness() != null);
    assertTrue(history(s.get("small")).isEmpty(), "placed for the hot expert 0: nothing to rebalance");
    return s;
  }

  @Test
  void aWindowThatShiftedPartWayIsFittedOnThePartAfter() {
    Scenario s = servingBefore("shifted");
    // Two one-second intervals on expert 0, then two on expert 15: the whole window is half and half.
    operator.statistics.shift(BEFORE, AFTER, 2, 4);
    MoEModel m = s.await("small", Duration.ofSeconds(60), x -> Models.serves(x, "small-r2"));
    RebalanceDecision d = history(m).stream().filter(x -> x.getDecision() == Decision.TAKEN).findFirst()
        .orElseThrow();
    assertTrue(d.getReason().matches("Rebalanced: balancedness [0-9.]+ -> [0-9.]+, a step towards [0-9.]+ \\(\\d+"
        + " replicas left\\); fitted on the last 2 s \\(since"
        + " \\d\\d:\\d\\d:\\d\\d UTC\\), after a routing shift in the window \\(G \\d+ > \\d+\\)"), d.getReason());
    assertTrue(s.events("small").stream().anyMatch(e -> "Rebalance".equals(e.getReason())
        && e.getMessage().contains("; fitted on the last 2 s (since ")), "the Event names the part fitted on");

    // Planned for expert 15 alone: its predicted balancedness is what it gives on that traffic, not on the mix.
    ModelLayout layout = ModelLayout.of(m.getSpec());
    ExpertPlacement r2 = s.revisions("small").stream().filter(p -> p.getSpec().getRevision() == 2).findFirst()
        .orElseThrow();
    var plan = new PlacementRevisions(client).toPlacement(r2, layout.experts());
    double onAfter = PlacementEvaluator.evaluate(AFTER, layout.cluster(), plan, null, 0).balancedness();
    double onMix = PlacementEvaluator.evaluate(operatorWindow(), layout.cluster(), plan, null, 0).balancedness();
    assertEquals(onAfter, r2.getSpec().getReport().getBalancedness(), 1e-4);
    assertTrue(Math.abs(onMix - onAfter) > 0.01, "the mix would predict otherwise: " + onMix + " vs " + onAfter);
  }

  @Test
  void aShiftInTheLastIntervalWaitsForAnIntervalAfterIt() {
    Scenario s = servingBefore("settling");
    operator.statistics.shift(BEFORE, AFTER, 3, 4);
    MoEModel m = s.await("small", Duration.ofSeconds(60), x -> !history(x).isEmpty());
    RebalanceDecision d = history(m).getFirst();
    assertEquals(Decision.DECLINED, d.getDecision());
    assertTrue(d.getReason().startsWith("ShiftSettling: the routing shifted within the window's last 1 s (since "),
        d.getReason());
    assertEquals(1, s.revisions("small").size(), "nothing moved");

    // Once an interval is wholly after the shift, the re-plan is fitted on it.
    operator.statistics.shift(BEFORE, AFTER, 2, 4);
    MoEModel taken = s.await("small", Duration.ofSeconds(60), x -> Models.serves(x, "small-r2"));
    assertTrue(history(taken).stream().anyMatch(x -> x.getDecision() == Decision.TAKEN
        && x.getReason().contains("; fitted on the last 2 s")), history(taken).toString());
  }

  /** The whole shifted window: half before, half after. */
  private static RoutingStats operatorWindow() {
    double[][] mix = new double[BEFORE.layers()][BEFORE.experts()];
    for (int l = 0; l < mix.length; l++) {
      for (int e = 0; e < mix[l].length; e++) {
        mix[l][e] = BEFORE.logicalCount()[l][e] + AFTER.logicalCount()[l][e];
      }
    }
    return RoutingStats.ofCounts(mix);
  }

  private static List<RebalanceDecision> history(MoEModel m) {
    return m.getStatus().getRebalanceHistory() == null ? List.of() : m.getStatus().getRebalanceHistory();
  }
}

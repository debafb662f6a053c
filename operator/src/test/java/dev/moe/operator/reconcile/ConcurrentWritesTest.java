package dev.moe.operator.reconcile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moe.crds.v1alpha1.Decision;
import dev.moe.crds.v1alpha1.ExpertPlacement;
import dev.moe.crds.v1alpha1.MoEModel;
import dev.moe.crds.v1alpha1.RebalanceDecision;
import dev.moe.operator.placement.ModelLayout;
import dev.moe.operator.placement.PlacementRevisions;
import dev.moe.operator.placement.RevisionExistsException;
import dev.moe.operator.stats.ModelStatistics;
import dev.moe.operator.testing.OperatorTestBase;
import dev.moe.operator.testing.RecordedStatistics;
import dev.moe.operator.testing.RunningOperator;
import dev.moe.operator.testing.Scenario;
import dev.moe.placement.Placement;
import dev.moe.placement.solve.PlacementSolver;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Two writers of one model, as two operator replicas or a leader that lost its Lease without
 * knowing it: a status built from an older read is refused, a revision number is made once, and a
 * decision whose status write never happened is recorded from its revision.
 */
class ConcurrentWritesTest extends OperatorTestBase {

  @Test
  void aStaleWriterCanNeitherOverwriteTheHistoryNorRemakeARevision() {
    Scenario s = RebalanceTest.serving(client, "stale", "dsv3", "Auto", operator);
    // What a replica that stopped here would still hold: the model as it read it before the rebalance.
    MoEModel stale = s.get("dsv3");
    operator.statistics.serve(RecordedStatistics.resource("prefill_in1000out1000.json"));
    MoEModel after = s.await("dsv3", Duration.ofSeconds(60),
        m -> "dsv3-r2".equals(m.getStatus().getCurrentPlacement().getRevision()));
    RebalanceDecision taken = RebalanceTest.history(after).stream().filter(d -> d.getDecision() == Decision.TAKEN)
        .findFirst().orElseThrow();

    StatusWriter staleStatus = new StatusWriter(stale, Clock.systemUTC());
    RebalanceDecision declined = decision(Decision.DECLINED, "GainBelowThreshold: the stale writer's");
    staleStatus.decision(declined);
    assertTrue(staleStatus.write(client).isEmpty(), "a status built from an older read is refused");
    MoEModel now = s.get("dsv3");
    assertEquals("dsv3-r2", now.getStatus().getCurrentPlacement().getRevision());
    assertEquals(taken.getTime(), RebalanceTest.history(now).stream().filter(d -> d.getDecision() == Decision.TAKEN)
        .findFirst().orElseThrow().getTime(), "the taken decision is kept");
    assertTrue(RebalanceTest.history(now).stream().noneMatch(d -> d.getTime().equals(declined.getTime())));

    // It also chose revision 2 for its plan: the number is taken, and r2 stays the rebalance's.
    PlacementRevisions revisions = new PlacementRevisions(client);
    ExpertPlacement r1 = s.revisions("dsv3").stream().filter(p -> p.getSpec().getRevision() == 1).findFirst()
        .orElseThrow();
    assertThrows(RevisionExistsException.class,
        () -> revisions.create(stale, 2, revisions.toPlacement(r1, 256), declined));
    ExpertPlacement r2 = s.revisions("dsv3").stream().filter(p -> p.getSpec().getRevision() == 2).findFirst()
        .orElseThrow();
    assertEquals(taken.getTime(), revisions.decision(r2).orElseThrow().getTime(), "r2 carries the taken decision");
    assertEquals(2, s.revisions("dsv3").size());
  }

  @Test
  void aDecisionWhoseStatusWriteWasLostIsRecordedOnceFromItsRevision() {
    Scenario s = RebalanceTest.serving(client, "lost", "dsv3", "Auto", operator);
    operator.close();
    // The leader made r2 for prefill traffic, then died before writing the status that records why.
    MoEModel m = s.get("dsv3");
    ModelLayout layout = ModelLayout.of(m.getSpec());
    var prefill = RecordedStatistics.resource("prefill_in1000out1000.json");
    Placement plan = new PlacementSolver(layout.options()).solve(
        ModelStatistics.fit(prefill, "prefill", layout.layers(), layout.experts()), layout.cluster(), null);
    RebalanceDecision lost = decision(Decision.TAKEN, "BalancednessBelowTrigger: made by the leader that died");
    new PlacementRevisions(client).create(m, 2, plan, lost);
    assertTrue(RebalanceTest.history(s.get("dsv3")).isEmpty());

    // The next leader serves r2 and records its decision, once, and decides nothing twice.
    operator = new RunningOperator(client, operator.statistics, operator.workers);
    operator.statistics.serve(prefill);
    s.await("dsv3", Duration.ofSeconds(60), x -> "dsv3-r2".equals(x.getStatus().getCurrentPlacement().getRevision()));
    int reads = operator.statistics.reads();
    MoEModel after = s.await("dsv3", Duration.ofSeconds(60), x -> operator.statistics.reads() >= reads + 3);
    List<RebalanceDecision> taken = RebalanceTest.history(after).stream()
        .filter(d -> d.getDecision() == Decision.TAKEN).toList();
    assertEquals(List.of(lost.getTime()), taken.stream().map(RebalanceDecision::getTime).toList(),
        "history: " + RebalanceTest.history(after).stream().map(RebalanceDecision::getReason).toList());
    assertEquals(lost.getReason(), taken.getFirst().getReason());
    assertEquals(2, s.revisions("dsv3").size());
  }

  private static RebalanceDecision decision(Decision decision, String reason) {
    RebalanceDecision d = new RebalanceDecision();
    d.setTime(Instant.now().toString());
    d.setDecision(decision);
    d.setReason(reason);
    d.setObservedBalancedness(0.8);
    d.setPredictedGain(0.1);
    d.setReplicasMoved(100);
    return d;
  }
}

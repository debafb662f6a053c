package dev.moe.operator.reconcile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moe.crds.v1alpha1.Decision;
import dev.moe.crds.v1alpha1.ExpertPlacement;
import dev.moe.crds.v1alpha1.MoEModel;
import dev.moe.crds.v1alpha1.RebalanceDecision;
import dev.moe.operator.testing.FakeWorkers;
import dev.moe.operator.testing.Models;
import dev.moe.operator.testing.OperatorTestBase;
import dev.moe.operator.testing.RecordedStatistics;
import dev.moe.operator.testing.RunningOperator;
import dev.moe.operator.testing.Scenario;
import dev.moe.stats.RoutingStats;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Rebalancing on the recorded DeepSeek-V3 traffic (58 MoE layers x 256 experts, 32 GPUs in 4
 * nodes, 288 slots): placed for decode, then served prefill; and a rollback to the placement
 * from before the rebalance.
 */
class RebalanceTest extends OperatorTestBase {

  private static final int WORKERS = 32;
  private static final int BUDGET = 1200;
  private static final double MIN_GAIN = 0.05;


  private static String model(Scenario s, String name, String mode) {
    return Models.deepseek(s.ns, name, WORKERS, 9, """
        placement:
          timeLimit: 3s
          initialStatistics: {configMapKeyRef: {name: statistics, key: logical_count}}
        rebalancing: {mode: %s, statisticsWindow: 1s, minInterval: 1s, triggerBalancedness: 0.9,
                      minPredictedGain: %s, coolDown: 1m, moveBudget: %d}
        """.formatted(mode, MIN_GAIN, BUDGET));
  }

  static List<RebalanceDecision> history(MoEModel m) {
    return m.getStatus().getRebalanceHistory() == null ? List.of() : m.getStatus().getRebalanceHistory();
  }

  static Scenario serving(KubernetesClient client, String ns, String name, String mode, RunningOperator op) {
    Scenario s = new Scenario(client, ns);
    s.decodeStatistics();
    op.statistics.serve(RecordedStatistics.resource("decode_in1000out1000.json"));
    s.apply(model(s, name, mode));
    s.await(name, Duration.ofSeconds(60), m -> Models.condition(m, "PlacementReady", "True"));
    s.readyWorkers(name, WORKERS);
    s.await(name, Duration.ofSeconds(60), m -> m.getStatus().getCurrentPlacement() != null
        && m.getStatus().getCurrentPlacement().getObservedBalancedness() != null);
    return s;
  }

  @Test
  void aShiftFromDecodeToPrefillTriggersExactlyOneRebalanceWithinTheBudget() throws InterruptedException {
    Scenario s = serving(client, "shift", "dsv3", "Auto", operator);
    MoEModel onDecode = s.get("dsv3");
    assertTrue(onDecode.getStatus().getCurrentPlacement().getObservedBalancedness() >= 0.9, "placed for decode");
    assertTrue(history(onDecode).isEmpty(), "balanced traffic triggers nothing");

    operator.statistics.serve(RecordedStatistics.resource("prefill_in1000out1000.json"));
    MoEModel after = s.await("dsv3", Duration.ofSeconds(60),
        m -> "dsv3-r2".equals(m.getStatus().getCurrentPlacement().getRevision()));
    int readsAfterRollout = operator.statistics.reads();
    // Keep serving prefill for several more windows: nothing more may happen.
    s.await("dsv3", Duration.ofSeconds(60), m -> operator.statistics.reads() >= readsAfterRollout + 4);
    after = s.get("dsv3");
    List<RebalanceDecision> decisions = history(after);
    List<RebalanceDecision> taken = decisions.stream().filter(x -> x.getDecision() == Decision.TAKEN).toList();
    assertEquals(1, taken.size(), "decisions: " + decisions.stream().map(RebalanceDecision::getReason).toList());
    RebalanceDecision d = taken.getFirst();
    assertTrue(d.getReplicasMoved() > 0 && d.getReplicasMoved() <= BUDGET, "moved " + d.getReplicasMoved());
    assertTrue(d.getPredictedGain() >= MIN_GAIN, "gain " + d.getPredictedGain());
    assertEquals(2, s.revisions("dsv3").size());
    assertEquals(List.of(1L, 2L), operator.workers.published(s.ns, "dsv3"));
    assertTrue(operator.scrape().lines().anyMatch(
        l -> l.matches("moe_rebalances_total\\{model=\"dsv3\",namespace=\"shift\",?\\} 1\\.0")), operator.scrape());
    System.out.printf("decode->prefill: observed %.4f on decode; %s, +%.4f predicted, %d replicas moved"
        + " (budget %d of %d); %.4f observed after; decisions %s%n",
        onDecode.getStatus().getCurrentPlacement().getObservedBalancedness(), d.getReason(), d.getPredictedGain(),
        d.getReplicasMoved(), BUDGET, 58 * 288, after.getStatus().getCurrentPlacement().getObservedBalancedness(),
        decisions.stream().map(RebalanceDecision::getReason).toList());
  }

  @Test
  void observeModeReportsTheSameDecisionAndMovesNothing() {
    Scenario s = serving(client, "observe", "dsv3", "Observe", operator);
    operator.statistics.serve(RecordedStatistics.resource("prefill_in1000out1000.json"));
    MoEModel m = s.await("dsv3", Duration.ofSeconds(60), x -> !history(x).isEmpty());
    RebalanceDecision d = history(m).getFirst();
    assertEquals(Decision.DECLINED, d.getDecision());
    assertTrue(d.getReason().startsWith("ObserveMode: would move"), d.getReason());
    assertTrue(d.getReplicasMoved() > 0 && d.getReplicasMoved() <= BUDGET);
    assertTrue(d.getPredictedGain() >= MIN_GAIN);
    assertEquals(1, s.revisions("dsv3").size());
    assertEquals("dsv3-r1", m.getStatus().getCurrentPlacement().getRevision());
    assertEquals(List.of(1L), operator.workers.published(s.ns, "dsv3"));
  }

  @Test
  void windowsThatDifferALittleTriggerNothing() {
    Scenario s = serving(client, "noise", "dsv3", "Auto", operator);
    RoutingStats decode = RecordedStatistics.resource("decode_in1000out1000.json");
    operator.statistics.alternate(decode, jitter(decode, 0.05, 7));
    int reads = operator.statistics.reads();
    s.await("dsv3", Duration.ofSeconds(60), x -> operator.statistics.reads() >= reads + 8);
    MoEModel m = s.get("dsv3");
    assertTrue(history(m).stream().noneMatch(d -> d.getDecision() == Decision.TAKEN), "decisions: " + history(m));
    assertEquals(1, s.revisions("dsv3").size());
  }

  @Test
  void pinningAnEarlierRevisionServesItsPlacementAgainAsANewRevision() {
    Scenario s = serving(client, "rollback", "dsv3", "Auto", operator);
    operator.statistics.serve(RecordedStatistics.resource("prefill_in1000out1000.json"));
    s.await("dsv3", Duration.ofSeconds(60), m -> Models.serves(m, "dsv3-r2"));
    assertEquals(List.of(2L), operator.workers.report(s.ns, "dsv3", 0).held(), "the workers freed r1");

    // The operator stops before the rollback is served: the next one finishes it and makes no other revision.
    operator.workers.reachable(false);
    s.apply(model(s, "dsv3", "Auto").replace("  placement:\n", "  placement:\n    pinnedRevision: 1\n"));
    MoEModel rolling = s.await("dsv3", Duration.ofSeconds(60),
        m -> Models.message(m, "Rebalancing").startsWith("rolling out dsv3-r3"));
    assertEquals("rolling out dsv3-r3 (the placement of dsv3-r1): 0 of 32 workers staged it, 0 serve it",
        Models.message(rolling, "Rebalancing"));
    RecordedStatistics statistics = operator.statistics;
    FakeWorkers workers = operator.workers;
    operator.close();
    workers.reachable(true);
    operator = new RunningOperator(client, statistics, workers);

    MoEModel m = s.await("dsv3", Duration.ofSeconds(60), x -> Models.condition(x, "Ready", "True")
        && Models.serves(x, "dsv3-r3"));
    assertEquals("dsv3-r1", m.getStatus().getCurrentPlacement().getRestores());
    ExpertPlacement r1 = placement(s, "dsv3-r1");
    ExpertPlacement r3 = placement(s, "dsv3-r3");
    assertEquals(1L, r3.getSpec().getRestores());
    assertEquals(r1.getSpec().getPhysicalToLogicalMap(), r3.getSpec().getPhysicalToLogicalMap());
    assertEquals(r1.getSpec().getReplicaShares(), r3.getSpec().getReplicaShares());
    assertEquals(List.of("dsv3-r1", "dsv3-r2", "dsv3-r3"), s.revisions("dsv3").stream()
        .map(p -> p.getMetadata().getName()).sorted().toList());
    assertEquals(List.of(1L, 2L, 3L), workers.published(s.ns, "dsv3"));
    assertEquals(1, s.events("dsv3").stream().filter(e -> "Rollback".equals(e.getReason())).count());
  }

  private ExpertPlacement placement(Scenario s, String name) {
    return client.resources(ExpertPlacement.class).inNamespace(s.ns).withName(name).get();
  }

  /** Each count scaled by a random factor within +-{@code amount}. */
  private static RoutingStats jitter(RoutingStats stats, double amount, long seed) {
    Random random = new Random(seed);
    double[][] counts = new double[stats.layers()][];
    for (int l = 0; l < counts.length; l++) {
      counts[l] = stats.load(l).clone();
      for (int e = 0; e < counts[l].length; e++) {
        counts[l][e] *= 1 + amount * (2 * random.nextDouble() - 1);
      }
    }
    return RoutingStats.ofCounts(counts);
  }
}

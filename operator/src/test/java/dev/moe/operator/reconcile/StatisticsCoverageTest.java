package dev.moe.operator.reconcile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moe.crds.v1alpha1.Decision;
import dev.moe.crds.v1alpha1.MoEModel;
import dev.moe.crds.v1alpha1.RebalanceDecision;
import dev.moe.operator.stats.Coverage;
import dev.moe.operator.testing.Models;
import dev.moe.operator.testing.OperatorTestBase;
import dev.moe.operator.testing.RecordedStatistics;
import dev.moe.operator.testing.Scenario;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Windows that miss workers: the status states their coverage, a rebalance on one below
 * rebalancing.minStatisticsCoverage is declined, one above it is taken; and the statistics kept for
 * a model are dropped once it is deleted.
 */
class StatisticsCoverageTest extends OperatorTestBase {

  private static String model(Scenario s, String name) {
    return Models.small(s.ns, name, 4, """
        placement: {timeLimit: 1s}
        rebalancing: {mode: Auto, statisticsWindow: 1s, minInterval: 1s, triggerBalancedness: 0.9,
                      minPredictedGain: 0.05, coolDown: 1s, moveBudget: 20, minStatisticsCoverage: 0.75}
        """);
  }

  @Test
  void aWindowBelowTheCoverageFloorIsDeclinedAndOneAboveItRebalances() {
    Scenario s = new Scenario(client, "coverage");
    operator.statistics.serve(RecordedStatistics.oneHotExpert(0));
    s.apply(model(s, "small"));
    s.readyWorkers("small", 4);
    s.await("small", Duration.ofSeconds(60), m -> m.getStatus() != null
        && m.getStatus().getCurrentPlacement() != null
        && m.getStatus().getCurrentPlacement().getObservedCoverage() != null);

    operator.statistics.coverage(new Coverage(1, 4, 0.3, List.of("small-workers-1 /stats answered 503",
        "small-workers-2 /stats unreachable: connection refused", "small-workers-3 /stats answered 503")));
    operator.statistics.serve(RecordedStatistics.oneHotExpert(15));
    MoEModel low = s.await("small", Duration.ofSeconds(60), m -> !history(m).isEmpty());
    RebalanceDecision declined = history(low).getLast();
    assertEquals(Decision.DECLINED, declined.getDecision());
    assertEquals("LowCoverage: the window saw 1 of 4 workers, 30% of the window's estimated tokens, below"
        + " rebalancing.minStatisticsCoverage 0.75", declined.getReason());
    assertEquals(1, declined.getCoverage().getWorkersCounted());
    assertEquals(4, declined.getCoverage().getWorkers());
    assertEquals("small-workers-1 /stats answered 503; small-workers-2 /stats unreachable: connection refused;"
        + " small-workers-3 /stats answered 503", declined.getCoverage().getMissing());
    assertEquals(0.3, low.getStatus().getCurrentPlacement().getObservedCoverage().getTokenShare());
    assertEquals(1, s.revisions("small").size(), "nothing moved on a window of one worker");

    operator.statistics.coverage(new Coverage(3, 4, 0.8, List.of("small-workers-2 /stats answered 503")));
    MoEModel taken = s.await("small", Duration.ofSeconds(60), m -> Models.serves(m, "small-r2"));
    RebalanceDecision d = history(taken).stream().filter(x -> x.getDecision() == Decision.TAKEN).findFirst()
        .orElseThrow();
    assertEquals(3, d.getCoverage().getWorkersCounted());
    assertEquals(0.8, d.getCoverage().getTokenShare());
    assertTrue(s.events("small").stream().anyMatch(e -> "Rebalance".equals(e.getReason())
        && e.getMessage().endsWith("statistics of 3 of 4 workers, 80% of the window's estimated tokens)")));
    assertTrue(operator.scrape().lines().anyMatch(l -> l.matches(
        "moe_statistics_coverage\\{model=\"small\",namespace=\"coverage\",?\\} 0\\.8")), operator.scrape());
  }

  @Test
  void aDeletedModelsStatisticsAreDropped() {
    Scenario s = new Scenario(client, "deleted");
    operator.statistics.serve(RecordedStatistics.oneHotExpert(0));
    s.apply(model(s, "kept"));
    s.apply(model(s, "gone"));
    s.readyWorkers("kept", 4);
    s.readyWorkers("gone", 4);
    String kept = s.get("kept").getMetadata().getUid();
    String gone = s.get("gone").getMetadata().getUid();
    s.await("gone", Duration.ofSeconds(60), m -> operator.statistics.models().containsAll(List.of(kept, gone)));

    client.resources(MoEModel.class).inNamespace(s.ns).withName("gone").delete();
    s.await("kept", Duration.ofSeconds(60), m -> !operator.statistics.models().contains(gone));
    assertTrue(operator.statistics.models().contains(kept));
  }

  private static List<RebalanceDecision> history(MoEModel m) {
    return m.getStatus().getRebalanceHistory() == null ? List.of() : m.getStatus().getRebalanceHistory();
  }
}

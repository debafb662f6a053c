package dev.moe.operator.reconcile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moe.crds.v1alpha1.MoEModel;
import dev.moe.crds.v1alpha1.RolloutStatus;
import dev.moe.operator.testing.Models;
import dev.moe.operator.testing.OperatorTestBase;
import dev.moe.operator.testing.Scenario;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A revision reaches the workers as the worker runtime takes it: each stages it, the group switches
 * when all hold it, and the operator counts it served only when every worker reports it active; a
 * worker that restarts on a placement of its own is handed the served revision again.
 */
class RolloutTest extends OperatorTestBase {

  private static String model(Scenario s) {
    return Models.deepseek(s.ns, "dsv3", 8, 48, """
        placement: {timeLimit: 2s}
        rebalancing: {mode: "Off"}
        """);
  }

  private static boolean rollout(MoEModel m, int staged, int active) {
    RolloutStatus r = m.getStatus() == null ? null : m.getStatus().getRollout();
    return r != null && r.getStaged() == staged && r.getActive() == active;
  }

  @Test
  void aRevisionIsServedOnlyOnceEveryWorkerReportsItActive() {
    Scenario s = new Scenario(client, "confirm");
    operator.workers.stall(s.ns, "dsv3", 5, true);
    s.apply(model(s));
    s.readyWorkers("dsv3", 8);
    MoEModel rolling = s.await("dsv3", Duration.ofSeconds(60), m -> rollout(m, 7, 0));
    assertEquals("dsv3-r1", rolling.getStatus().getRollout().getRevision());
    assertEquals(8, rolling.getStatus().getRollout().getWorkers());
    assertNull(rolling.getStatus().getCurrentPlacement().getRevision(), "posted everywhere, active nowhere");
    assertEquals("RollingOut", Models.reason(rolling, "Ready"));
    assertEquals("rolling out dsv3-r1: 7 of 8 workers staged it, 0 serve it", Models.message(rolling, "Rebalancing"));
    assertEquals(0, operator.workers.report(s.ns, "dsv3", 0).active(), "the group waits for its last worker");

    operator.workers.stall(s.ns, "dsv3", 5, false);
    MoEModel served = s.await("dsv3", Duration.ofSeconds(60), m -> Models.condition(m, "Ready", "True"));
    assertEquals("dsv3-r1", served.getStatus().getCurrentPlacement().getRevision());
    assertNull(served.getStatus().getRollout());
    for (int w = 0; w < 8; w++) {
      assertEquals(1, operator.workers.report(s.ns, "dsv3", w).active());
    }
  }

  @Test
  void aRestartedWorkerIsHandedTheServedRevisionAgainAndNoNewRevisionIsMade() {
    Scenario s = new Scenario(client, "rejoin");
    s.apply(model(s));
    s.readyWorkers("dsv3", 8);
    MoEModel before = s.await("dsv3", Duration.ofSeconds(60), m -> Models.condition(m, "Ready", "True"));

    // Its peers did not answer in time, so it came up on the default placement, version 0.
    operator.workers.restart(s.ns, "dsv3", 3);
    operator.workers.stall(s.ns, "dsv3", 3, true);
    MoEModel rejoining = s.await("dsv3", Duration.ofSeconds(60), m -> rollout(m, 7, 7));
    assertEquals("WorkerRejoining", Models.reason(rejoining, "Ready"));
    assertTrue(Models.message(rejoining, "WorkersReady").startsWith("workers [3] do not serve dsv3-r1 (3: "),
        Models.message(rejoining, "WorkersReady"));
    assertEquals("dsv3-r1", rejoining.getStatus().getRollout().getRevision());

    operator.workers.stall(s.ns, "dsv3", 3, false);
    MoEModel after = s.await("dsv3", Duration.ofSeconds(60), m -> Models.condition(m, "Ready", "True"));
    assertEquals(1, operator.workers.report(s.ns, "dsv3", 3).active());
    assertEquals(2, operator.workers.posts(s.ns, "dsv3", 3, 1), "posted when it started, and again after its restart");
    assertEquals(List.of(1L), operator.workers.published(s.ns, "dsv3"));
    assertEquals(List.of("dsv3-r1"), s.revisions("dsv3").stream().map(p -> p.getMetadata().getName()).toList());
    assertEquals(before.getStatus().getCurrentPlacement().getRolledOutAt(),
        after.getStatus().getCurrentPlacement().getRolledOutAt(), "still the same rollout of the same revision");
    assertNull(after.getStatus().getRollout());
  }
}

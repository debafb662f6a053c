package dev.moe.operator.reconcile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moe.crds.v1alpha1.ExpertPlacement;
import dev.moe.crds.v1alpha1.MoEModel;
import dev.moe.operator.cluster.ControlPlane;
import dev.moe.operator.testing.ArgoCdHealth;
import dev.moe.operator.testing.ArgoCdHealth.Health;
import dev.moe.operator.testing.FakeWorkers;
import dev.moe.operator.testing.Models;
import dev.moe.operator.testing.OperatorTestBase;
import dev.moe.operator.testing.RecordedStatistics;
import dev.moe.operator.testing.RunningOperator;
import dev.moe.operator.testing.Scenario;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.apps.StatefulSetStatusBuilder;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The operator under faults: lost workers, its own restart, the API server's, missing statistics, bad input;
 * and Argo CD's view of them.
 */
class FaultsTest extends OperatorTestBase {

  private static String model(Scenario s, String name, int workers, int slots, String mode) {
    return Models.deepseek(s.ns, name, workers, slots, """
        placement: {timeLimit: 2s}
        rebalancing: {mode: "%s", statisticsWindow: 1s, minInterval: 1s}
        """.formatted(mode));
  }

  @Test
  void aLostWorkerDegradesTheModelItsExpertsMoveToTheSurvivorsAndBackWhenItReturns() {
    Scenario s = new Scenario(client, "lost-worker");
    operator.statistics.serve(RecordedStatistics.resource("decode_in1000out1000.json"));
    s.apply(model(s, "dsv3", 8, 48, "Off"));
    s.readyWorkers("dsv3", 8);
    s.await("dsv3", Duration.ofSeconds(60), m -> Models.condition(m, "Ready", "True"));
    Models.loseWorker(client, s.ns, "dsv3", 2);
    MoEModel m = s.await("dsv3", Duration.ofSeconds(60),
        x -> "dsv3-r2".equals(x.getStatus().getCurrentPlacement().getRevision()));
    assertTrue(Models.condition(m, "Degraded", "True"));
    assertEquals("WorkerLost", Models.reason(m, "Ready"));
    assertTrue(Models.message(m, "Degraded").contains("dsv3-r2 serves every expert from the 7 left"),
        Models.message(m, "Degraded"));
    Health health = ArgoCdHealth.of(client, s.ns, "dsv3");
    assertEquals("Degraded", health.status());
    assertTrue(health.message().startsWith("workers [2] not ready"), health.message());
    ExpertPlacement r2 = client.resources(ExpertPlacement.class).inNamespace(s.ns).withName("dsv3-r2").get();
    int slotsPerWorker = 48;
    for (int l = 0; l < 58; l++) {
      List<Integer> map = r2.getSpec().getPhysicalToLogicalMap().get(l);
      List<Double> shares = r2.getSpec().getReplicaShares().get(l);
      boolean[] served = new boolean[256];
      for (int slot = 0; slot < map.size(); slot++) {
        boolean onLost = slot / slotsPerWorker == 2;
        if (onLost) {
          assertEquals(0.0, shares.get(slot), "no token goes to the lost worker");
        } else if (shares.get(slot) > 0) {
          served[map.get(slot)] = true;
        }
      }
      for (int e = 0; e < 256; e++) {
        assertTrue(served[e], "layer " + l + " expert " + e + " has a replica on a survivor");
      }
    }
    assertTrue(s.events("dsv3").stream().anyMatch(e -> "WorkerLost".equals(e.getReason())
        && "Warning".equals(e.getType())));

    // Back: r2 would leave it idle, so the experts are placed on all 8 again, and served by them.
    Models.readyWorker(client, s.ns, "dsv3", 2);
    MoEModel back = s.await("dsv3", Duration.ofSeconds(60),
        x -> "dsv3-r3".equals(x.getStatus().getCurrentPlacement().getRevision()) && Models.condition(x, "Ready", "True"));
    assertTrue(Models.condition(back, "Degraded", "False"));
    ExpertPlacement r3 = client.resources(ExpertPlacement.class).inNamespace(s.ns).withName("dsv3-r3").get();
    assertTrue(r3.getSpec().getReplicaShares().stream().anyMatch(layer -> layer.subList(2 * slotsPerWorker,
        3 * slotsPerWorker).stream().anyMatch(share -> share > 0)), "the returned worker serves tokens again");
    assertTrue(s.events("dsv3").stream().anyMatch(e -> "WorkersBack".equals(e.getReason())));
    assertEquals(3, s.revisions("dsv3").size(), "one plan for the loss, one for the return");
  }

  /**
   * A worker that the StatefulSet restarts onto a new template (a resize gives every worker new
   * peers) is starting, not lost: no survivors' plan while the rollout runs. Once the rollout is
   * done, a worker that fails is lost again.
   */
  @Test
  void aWorkerRestartedByARollingUpdateIsStartingNotLost() {
    Scenario s = new Scenario(client, "rolling-update");
    operator.statistics.serve(RecordedStatistics.resource("decode_in1000out1000.json"));
    s.apply(model(s, "dsv3", 8, 48, "Off"));
    s.readyWorkers("dsv3", 8);
    s.await("dsv3", Duration.ofSeconds(60), m -> Models.condition(m, "Ready", "True"));
    workersRevisions(s, "dsv3-workers-1", "dsv3-workers-2");
    Models.loseWorker(client, s.ns, "dsv3", 2);
    MoEModel m = s.await("dsv3", Duration.ofSeconds(60), x -> x.getStatus().getWorkers().getReady() == 7);
    assertFalse(Models.condition(m, "Degraded", "True"), Models.message(m, "Degraded"));
    assertEquals("dsv3-r1", m.getStatus().getCurrentPlacement().getRevision());

    Models.readyWorker(client, s.ns, "dsv3", 2);
    workersRevisions(s, "dsv3-workers-2", "dsv3-workers-2");
    s.await("dsv3", Duration.ofSeconds(60), x -> Models.condition(x, "Ready", "True"));
    Models.loseWorker(client, s.ns, "dsv3", 2);
    m = s.await("dsv3", Duration.ofSeconds(60), x -> Models.condition(x, "Degraded", "True"));
    assertTrue(Models.message(m, "Degraded").startsWith("workers [2] not ready"), Models.message(m, "Degraded"));
  }

  /** The worker StatefulSet's status as its controller writes it: rolling from {@code current} to {@code update}. */
  private void workersRevisions(Scenario s, String current, String update) {
    client.apps().statefulSets().inNamespace(s.ns).withName("dsv3-workers").editStatus(sts -> {
      sts.setStatus(new StatefulSetStatusBuilder().withReplicas(8).withCurrentRevision(current)
          .withUpdateRevision(update).build());
      return sts;
    });
  }

  @Test
  void anOperatorKilledMidRolloutResumesFromTheRecordedRevision() {
    Scenario s = new Scenario(client, "restart-operator");
    operator.workers.reachable(false);
    s.apply(model(s, "dsv3", 32, 9, "Off"));
    s.readyWorkers("dsv3", 32);
    MoEModel rolling = s.await("dsv3", Duration.ofSeconds(60), m -> Models.condition(m, "Rebalancing", "True")
        && "RollingOut".equals(Models.reason(m, "Rebalancing")) && Models.condition(m, "WorkersReady", "True"));
    assertEquals("RollingOut", Models.reason(rolling, "Ready"), "placed and workers up, but nothing served yet");
    RecordedStatistics statistics = operator.statistics;
    FakeWorkers workers = operator.workers;
    operator.close();
    workers.reachable(true);
    operator = new RunningOperator(client, statistics, workers);
    MoEModel m = s.await("dsv3", Duration.ofSeconds(60), x -> Models.condition(x, "Ready", "True"));
    assertEquals("dsv3-r1", m.getStatus().getCurrentPlacement().getRevision());
    assertEquals(1, s.revisions("dsv3").size(), "the restarted operator re-published r1, it did not re-plan");
    assertEquals(List.of(1L), workers.published(s.ns, "dsv3"), "no other revision was handed to the workers");
  }

  @Test
  void anApiServerRestartUnderTheOperatorLosesNothingAndDuplicatesNothing() {
    Scenario s = new Scenario(client, "restart-apiserver");
    s.apply(model(s, "dsv3", 32, 9, "Off"));
    s.await("dsv3", Duration.ofSeconds(60), m -> Models.condition(m, "PlacementReady", "True"));
    ControlPlane.get().restartApiServer();
    // The watches must have resumed: a change after the restart is acted on.
    var scaled = ControlPlane.get().kubectl(null, "-n", s.ns, "scale", "moe/dsv3", "--replicas=64");
    assertEquals(0, scaled.exitCode(), scaled.stderr());
    s.await("dsv3", Duration.ofSeconds(90), m -> m.getStatus().getWorkers().getDesired() == 64);
    assertEquals(64, client.apps().statefulSets().inNamespace(s.ns).withName("dsv3-workers").get().getSpec()
        .getReplicas());
    assertEquals(List.of("dsv3-r1", "dsv3-r2"), s.revisions("dsv3").stream().map(p -> p.getMetadata().getName())
        .sorted().toList());
  }

  @Test
  void unreachableStatisticsKeepThePlacementAndSayWhy() {
    Scenario s = new Scenario(client, "no-statistics");
    operator.statistics.unreachable("worker dsv3-workers-0 /stats unreachable: connection refused");
    s.apply(model(s, "dsv3", 32, 9, "Auto"));
    s.readyWorkers("dsv3", 32);
    MoEModel m = s.await("dsv3", Duration.ofSeconds(60),
        x -> "StatisticsUnavailable".equals(Models.reason(x, "Rebalancing")));
    assertEquals("keeping dsv3-r1: worker dsv3-workers-0 /stats unreachable: connection refused",
        Models.message(m, "Rebalancing"));
    assertEquals("dsv3-r1", m.getStatus().getCurrentPlacement().getRevision());
    assertTrue(Models.condition(m, "Ready", "True"), "serving goes on");
  }

  @Test
  void aModelTheSchemaCannotRefuseGetsAConditionAndAnEventNotACrashLoop() {
    Scenario s = new Scenario(client, "invalid");
    s.apply(Models.deepseek(s.ns, "tiny-gpus", 32, 9, "").replace("slotsPerGpu: 9", "gpuMemory: 1Gi"));
    MoEModel m = s.await("tiny-gpus", Duration.ofSeconds(30), x -> Models.condition(x, "PlacementReady", "False"));
    assertEquals("InvalidSpec", Models.reason(m, "Ready"));
    assertEquals("parallelism.gpuMemory (1Gi) must exceed the 2Gi the runtime keeps for itself",
        Models.message(m, "PlacementReady"));
    assertEquals("Failed", m.getStatus().getPhase().name());
    assertEquals(new Health("Degraded", Models.message(m, "PlacementReady")), ArgoCdHealth.of(client, s.ns, "tiny-gpus"));
    // Every reason the operator counts as failed reads Degraded, whatever the phase says.
    for (String failed : Reasons.FAILED) {
      ObjectNode object = ArgoCdHealth.live(client, s.ns, "tiny-gpus");
      ObjectNode status = (ObjectNode) object.get("status");
      status.put("phase", "Placing");
      for (var c : status.get("conditions")) {
        if ("Ready".equals(c.get("type").asText())) {
          ((ObjectNode) c).put("reason", failed);
        }
      }
      assertEquals("Degraded", ArgoCdHealth.of(object).status(), failed);
    }
    assertTrue(s.events("tiny-gpus").stream().anyMatch(e -> "InvalidSpec".equals(e.getReason())
        && "Warning".equals(e.getType())));
    assertEquals(0, s.revisions("tiny-gpus").size());
  }

  @Test
  void foreignAndInvalidRevisionsAreRefusedAndNeverServedWhileTheModelServesItsOwn() {
    Scenario s = new Scenario(client, "foreign-revisions");
    s.apply(model(s, "dsv3", 8, 48, "Off"));
    s.await("dsv3", Duration.ofSeconds(60), m -> Models.condition(m, "PlacementReady", "True"));
    ExpertPlacement r1 = client.resources(ExpertPlacement.class).inNamespace(s.ns).withName("dsv3-r1").get();
    // Both carry the model's label and a revision above its own; neither is its own.
    ExpertPlacement foreign = revision(r1, 7);
    client.resource(foreign).create();
    ExpertPlacement invalid = revision(r1, 8);
    invalid.getMetadata().setOwnerReferences(r1.getMetadata().getOwnerReferences());
    invalid.getSpec().getPhysicalToLogicalMap().getFirst().set(0, 999);
    client.resource(invalid).create();
    s.readyWorkers("dsv3", 8);

    MoEModel m = s.await("dsv3", Duration.ofSeconds(60), x -> Models.condition(x, "Ready", "True")
        && Models.condition(x, "RevisionsAccepted", "False"));
    assertEquals("dsv3-r1", m.getStatus().getCurrentPlacement().getRevision());
    assertEquals(List.of(1L), operator.workers.published(s.ns, "dsv3"), "neither was handed to the workers");
    String refused = Models.message(m, "RevisionsAccepted");
    assertTrue(refused.contains("refused ExpertPlacement dsv3-r7: not dsv3's: it has no controller reference to this"
        + " MoEModel"), refused);
    assertTrue(refused.contains("refused ExpertPlacement dsv3-r8: ") && refused.contains("999"), refused);
    assertEquals("RevisionRefused", Models.reason(m, "RevisionsAccepted"));
    assertTrue(s.events("dsv3").stream().anyMatch(e -> "RevisionRefused".equals(e.getReason())
        && "Warning".equals(e.getType()) && e.getMessage().contains("dsv3-r7") && e.getMessage().contains("dsv3-r8")));

    // The next revision of its own goes above them, and they stay as they are.
    var scaled = ControlPlane.get().kubectl(null, "-n", s.ns, "scale", "moe/dsv3", "--replicas=16");
    assertEquals(0, scaled.exitCode(), scaled.stderr());
    s.await("dsv3", Duration.ofSeconds(60), x -> Models.message(x, "PlacementReady").startsWith("dsv3-r9 placed"));
    assertEquals(List.of("dsv3-r1", "dsv3-r7", "dsv3-r8", "dsv3-r9"), s.revisions("dsv3").stream()
        .map(p -> p.getMetadata().getName()).sorted().toList());
  }

  @Test
  void aModelIsReadyOnlyWhileItsWorkersAnswerTheApi() {
    Scenario s = new Scenario(client, "api-check");
    operator.workers.apiDown(s.ns, "dsv3", 5, true);
    s.apply(model(s, "dsv3", 8, 48, "Off"));
    s.readyWorkers("dsv3", 8);
    MoEModel m = s.await("dsv3", Duration.ofSeconds(60), x -> Models.serves(x, "dsv3-r1"));
    assertEquals("ApiNotAnswering", Models.reason(m, "Ready"));
    assertEquals("workers [5] do not answer GET /health on port 8000 (5: unreachable: connection refused)",
        Models.message(m, "Ready"));
    assertEquals("http://dsv3-api.api-check.svc:8000/v1", m.getStatus().getEndpoint());
    operator.workers.apiDown(s.ns, "dsv3", 5, false);
    m = s.await("dsv3", Duration.ofSeconds(60), x -> Models.condition(x, "Ready", "True"));
    assertEquals("8 workers answer on http://dsv3-api.api-check.svc:8000/v1", Models.message(m, "ApiReady"));
  }

  /** A copy of {@code r1} as revision {@code revision}: the model's label, no owner. */
  private ExpertPlacement revision(ExpertPlacement r1, long revision) {
    ExpertPlacement p = new ExpertPlacement();
    p.setMetadata(new ObjectMetaBuilder().withName("dsv3-r" + revision).withNamespace(r1.getMetadata().getNamespace())
        .withLabels(r1.getMetadata().getLabels()).build());
    p.setSpec(client.getKubernetesSerialization().clone(r1.getSpec()));
    p.getSpec().setRevision(revision);
    return p;
  }
}

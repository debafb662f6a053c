package dev.moe.operator.reconcile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moe.crds.v1alpha1.ExpertPlacement;
import dev.moe.crds.v1alpha1.MoEModel;
import dev.moe.operator.cluster.ControlPlane;
import dev.moe.operator.testing.ArgoCdHealth;
import dev.moe.operator.testing.ArgoCdHealth.Health;
import dev.moe.operator.testing.Models;
import dev.moe.operator.testing.OperatorTestBase;
import dev.moe.operator.testing.RecordedStatistics;
import dev.moe.operator.testing.RecordingPublisher;
import dev.moe.operator.testing.RunningOperator;
import dev.moe.operator.testing.Scenario;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.client.KubernetesClient;
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

  private static String reason(MoEModel m, String type) {
    // Awaited predicates see the model before the operator's first status too.
    if (m.getStatus() == null || m.getStatus().getConditions() == null) {
      return "";
    }
    return m.getStatus().getConditions().stream().filter(c -> type.equals(c.getType())).findFirst()
        .map(c -> c.getReason()).orElse("");
  }

  private static String message(MoEModel m, String type) {
    return m.getStatus().getConditions().stream().filter(c -> type.equals(c.getType())).findFirst()
        .map(c -> c.getMessage()).orElse("");
  }

  @Test
  void aLostWorkerDegradesTheModelAndItsExpertsMoveToTheSurvivors() {
    Scenario s = new Scenario(client, "lost-worker");
    operator.statistics.serve(RecordedStatistics.resource("decode_in1000out1000.json"));
    s.apply(model(s, "dsv3", 8, 48, "Off"));
    s.readyWorkers("dsv3", 8);
    s.await("dsv3", Duration.ofSeconds(60), m -> Models.condition(m, "Ready", "True"));
    Models.loseWorker(client, s.ns, "dsv3", 2);
    MoEModel m = s.await("dsv3", Duration.ofSeconds(60),
        x -> "dsv3-r2".equals(x.getStatus().getCurrentPlacement().getRevision()));
    assertTrue(Models.condition(m, "Degraded", "True"));
    assertEquals("WorkerLost", reason(m, "Ready"));
    assertTrue(message(m, "Degraded").contains("dsv3-r2 serves every expert from the 7 left"), message(m, "Degraded"));
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
    assertTrue(events(s.ns, "dsv3").stream().anyMatch(e -> "WorkerLost".equals(e.getReason())
        && "Warning".equals(e.getType())));
  }

  @Test
  void anOperatorKilledMidRolloutResumesFromTheRecordedRevision() {
    Scenario s = new Scenario(client, "restart-operator");
    operator.publisher.accepting(false);
    s.apply(model(s, "dsv3", 32, 9, "Off"));
    s.readyWorkers("dsv3", 32);
    MoEModel rolling = s.await("dsv3", Duration.ofSeconds(60), m -> Models.condition(m, "Rebalancing", "True")
        && "RollingOut".equals(reason(m, "Rebalancing")) && Models.condition(m, "WorkersReady", "True"));
    assertEquals("RollingOut", reason(rolling, "Ready"), "placed and workers up, but nothing served yet");
    RecordedStatistics statistics = operator.statistics;
    RecordingPublisher publisher = operator.publisher;
    operator.close();
    publisher.accepting(true);
    operator = new RunningOperator(client, statistics, publisher);
    MoEModel m = s.await("dsv3", Duration.ofSeconds(60), x -> Models.condition(x, "Ready", "True"));
    assertEquals("dsv3-r1", m.getStatus().getCurrentPlacement().getRevision());
    assertEquals(1, s.revisions("dsv3").size(), "the restarted operator re-published r1, it did not re-plan");
    // Publishing is idempotent, so it may repeat; no other revision may appear.
    assertEquals(java.util.Set.of(1L), java.util.Set.copyOf(publisher.published(s.ns, "dsv3")));
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
        x -> "StatisticsUnavailable".equals(reason(x, "Rebalancing")));
    assertEquals("keeping dsv3-r1: worker dsv3-workers-0 /stats unreachable: connection refused",
        message(m, "Rebalancing"));
    assertEquals("dsv3-r1", m.getStatus().getCurrentPlacement().getRevision());
    assertTrue(Models.condition(m, "Ready", "True"), "serving goes on");
  }

  @Test
  void aModelTheSchemaCannotRefuseGetsAConditionAndAnEventNotACrashLoop() {
    Scenario s = new Scenario(client, "invalid");
    s.apply(Models.deepseek(s.ns, "tiny-gpus", 32, 9, "").replace("slotsPerGpu: 9", "gpuMemory: 1Gi"));
    MoEModel m = s.await("tiny-gpus", Duration.ofSeconds(30), x -> Models.condition(x, "PlacementReady", "False"));
    assertEquals("InvalidSpec", reason(m, "Ready"));
    assertEquals("parallelism.gpuMemory (1Gi) must exceed the 2Gi the runtime keeps for itself",
        message(m, "PlacementReady"));
    assertEquals("Failed", m.getStatus().getPhase().name());
    assertEquals(new Health("Degraded", message(m, "PlacementReady")), ArgoCdHealth.of(client, s.ns, "tiny-gpus"));
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
    assertTrue(events(s.ns, "tiny-gpus").stream().anyMatch(e -> "InvalidSpec".equals(e.getReason())
        && "Warning".equals(e.getType())));
    assertEquals(0, s.revisions("tiny-gpus").size());
  }

  private List<Event> events(String ns, String model) {
    return client.v1().events().inNamespace(ns).list().getItems().stream()
        .filter(e -> model.equals(e.getInvolvedObject().getName())).toList();
  }
}

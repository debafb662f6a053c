package dev.moe.operator.reconcile;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moe.crds.v1alpha1.MoEModel;
import dev.moe.operator.cluster.ControlPlane;
import dev.moe.operator.testing.Models;
import dev.moe.operator.testing.RunningOperator;
import dev.moe.operator.testing.Scenario;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

/** DeepSeek-V3's 58 MoE layers x 256 experts on 144 GPUs (18 nodes of 8, 288 slots), placed from its decode statistics. */
class LargeModelTest {

  @Test
  void placementIsReadyWithinFifteenSecondsOfCreation() {
    try (KubernetesClient client = ControlPlane.get().adminClient(); RunningOperator operator = new RunningOperator(client)) {
      Scenario s = new Scenario(client, "large");
      s.decodeStatistics();
      s.apply(Models.deepseek(s.ns, "dsv3", 144, 2, """
          placement: {initialStatistics: {configMapKeyRef: {name: statistics, key: logical_count}}}
          """));
      MoEModel m = s.await("dsv3", Duration.ofSeconds(60), x -> Models.condition(x, "PlacementReady", "True"));
      Instant created = Instant.parse(m.getMetadata().getCreationTimestamp());
      Instant ready = Instant.parse(m.getStatus().getConditions().stream()
          .filter(c -> "PlacementReady".equals(c.getType())).findFirst().orElseThrow().getLastTransitionTime());
      Duration took = Duration.between(created, ready);
      var report = s.revisions("dsv3").getFirst().getSpec().getReport();
      System.out.printf("58 x 256 on 144 GPUs: PlacementReady %.1f s after creation; predicted balancedness %.4f,"
          + " bound %.4f, solve %.1f s%n", took.toMillis() / 1000.0, report.getBalancedness(),
          report.getBalancednessBound(), report.getSolveSeconds());
      RunningOperator.deleteAllModels(client);
      assertTrue(took.compareTo(Duration.ofSeconds(15)) <= 0, "took " + took);
    }
  }
}

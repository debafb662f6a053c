package dev.moe.crds.v1alpha1;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The committed examples read into the Java types and write back to the same document. */
class ExampleRoundTripTest {

  private static final Path SMALL = GeneratedCrds.moduleDir().resolve("examples").resolve("moemodel-small.yaml");

  @Test
  void smallExampleReadsIntoTheTypes() throws IOException {
    MoEModel model = Serialization.unmarshal(Files.readString(SMALL), MoEModel.class);
    assertEquals("moe.dev/v1alpha1", model.getApiVersion());
    assertEquals("MoEModel", model.getKind());
    assertEquals("small", model.getMetadata().getName());
    MoEModelSpec spec = model.getSpec();
    assertEquals(4, spec.getModel().getMoeLayers());
    assertEquals(16, spec.getModel().getExpertsPerLayer());
    assertEquals(2, spec.getModel().getTopK());
    assertEquals(4, spec.getModel().getExpertGroups());
    assertEquals(2, spec.getModel().getTopkGroups());
    assertEquals(Dtype.BF16, spec.getModel().getDtype());
    assertEquals("model-weights", spec.getWeights().getPvc().getClaimName());
    assertNull(spec.getWeights().getUri());
    assertEquals(2, spec.getParallelism().getWorkers());
    assertEquals(10, spec.getParallelism().getSlotsPerGpu());
    assertNull(spec.getParallelism().getGpuMemory());
    assertEquals(new Quantity("1"), spec.getResources().getLimits().get("nvidia.com/gpu"));
    assertEquals("NoSchedule", spec.getTolerations().getFirst().getEffect());
    assertEquals("kubernetes.io/hostname", spec.getAffinity().getPodAntiAffinity()
        .getPreferredDuringSchedulingIgnoredDuringExecution().getFirst().getPodAffinityTerm().getTopologyKey());
    assertEquals("logical_count", spec.getPlacement().getInitialStatistics().getConfigMapKeyRef().getKey());
    assertEquals("30s", spec.getPlacement().getTimeLimit());
    assertEquals(RebalancingMode.Observe, spec.getRebalancing().getMode());
    assertEquals(8, spec.getRebalancing().getMoveBudget());
    assertEquals(0.85, spec.getRebalancing().getTriggerBalancedness());
    assertNull(model.getStatus());
  }

  @Test
  void smallExampleWritesBackUnchanged() throws IOException {
    String yaml = Files.readString(SMALL);
    MoEModel model = Serialization.unmarshal(yaml, MoEModel.class);
    Map<?, ?> original = Serialization.unmarshal(yaml, Map.class);
    Map<?, ?> written = Serialization.unmarshal(Serialization.asYaml(model), Map.class);
    assertEquals(original, written);
  }

  @Test
  void statusRoundTrips() {
    String yaml = """
        apiVersion: moe.dev/v1alpha1
        kind: MoEModel
        metadata: {name: small, namespace: default, generation: 3}
        status:
          observedGeneration: 3
          phase: Running
          conditions:
          - {type: Ready, status: "True", reason: Serving, message: "2/2 workers serve placement small-3",
             observedGeneration: 3, lastTransitionTime: "2026-01-02T03:04:05Z"}
          workers: {ready: 2, desired: 2}
          selector: moe.dev/model=small
          currentPlacement: {revision: small-3, predictedBalancedness: 0.93, observedBalancedness: 0.91,
                             crossNodeFraction: 0.4, solverGap: 0.01}
          rebalanceHistory:
          - {time: "2026-01-02T03:00:00Z", decision: declined, reason: GainBelowThreshold, predictedGain: 0.01,
             replicasMoved: 3}
          - {time: "2026-01-02T03:04:00Z", decision: taken, reason: Imbalanced, predictedGain: 0.08, replicasMoved: 8}
        """;
    MoEModel model = Serialization.unmarshal(yaml, MoEModel.class);
    MoEModelStatus status = model.getStatus();
    assertEquals(Phase.Running, status.getPhase());
    assertEquals(Conditions.READY, status.getConditions().getFirst().getType());
    assertEquals(3L, status.getConditions().getFirst().getObservedGeneration());
    assertEquals(2, status.getWorkers().getDesired());
    assertEquals("small-3", status.getCurrentPlacement().getRevision());
    assertEquals(List.of(Decision.DECLINED, Decision.TAKEN),
        status.getRebalanceHistory().stream().map(RebalanceDecision::getDecision).toList());
    assertEquals(Serialization.unmarshal(yaml, Map.class),
        Serialization.unmarshal(Serialization.asYaml(model), Map.class));
  }

  /** A placement file as placement-solver's PlacementJson writes it, plus model and revision. */
  @Test
  void expertPlacementReadsThePlacementFileFormat() {
    String json = """
        {"apiVersion": "moe.dev/v1alpha1", "kind": "ExpertPlacement",
         "metadata": {"name": "small-1", "namespace": "default"},
         "spec": {
          "model": {"name": "small"},
          "revision": 1,
          "physical_to_logical_map": [
            [0, 1, 2, 0],
            [1, 0, 2, 2]
          ],
          "replica_shares": [
            [0.5, 1.0, 1.0, 0.5],
            [1.0, 1.0, 0.5, 0.5]
          ],
          "slots_per_gpu": 2,
          "report": {
            "balancedness": 0.9,
            "balancedness_bound": 0.95,
            "gap": 0.05263157894736842,
            "cross_node_fraction": 0.25,
            "cross_gpu_transition_fraction": 0.5,
            "replicas_moved": 3,
            "solve_seconds": 0.125
          }
        }}
        """;
    ExpertPlacement placement = Serialization.unmarshal(json, ExpertPlacement.class);
    ExpertPlacementSpec spec = placement.getSpec();
    assertEquals("small", spec.getModel().getName());
    assertEquals(1L, spec.getRevision());
    assertEquals(List.of(List.of(0, 1, 2, 0), List.of(1, 0, 2, 2)), spec.getPhysicalToLogicalMap());
    assertEquals(0.5, spec.getReplicaShares().get(1).get(3));
    assertEquals(2, spec.getSlotsPerGpu());
    assertEquals(0.95, spec.getReport().getBalancednessBound());
    assertEquals(3, spec.getReport().getReplicasMoved());
    assertEquals(Serialization.unmarshal(json, Map.class),
        Serialization.unmarshal(Serialization.asJson(placement), Map.class));
  }
}

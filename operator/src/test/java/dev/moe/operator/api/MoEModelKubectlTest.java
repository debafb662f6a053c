package dev.moe.operator.api;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.moe.crds.v1alpha1.MoEModel;
import dev.moe.operator.cluster.ControlPlane;
import io.fabric8.kubernetes.api.model.autoscaling.v1.Scale;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** What kubectl shows of a MoEModel and does with it: printer columns, the scale and status subresources. */
class MoEModelKubectlTest {

  private static final String NS = "moe-kubectl";

  @BeforeAll
  static void namespace() {
    Apply.namespace(NS);
  }

  @AfterAll
  static void cleanUp() {
    Apply.deleteAll(NS);
  }

  /** A status as the operator writes it: through the status subresource. */
  private static void writeStatus(String name, String statusJson) {
    Apply.kubectl("patch", "moe", name, "-n", NS, "--subresource=status", "--type=merge",
        "-p", "{\"status\":" + statusJson + "}");
  }

  private static String get(String name, String jsonPath, String... flags) {
    List<String> args = new ArrayList<>(List.of("get", "moe", name, "-n", NS, "-o", "jsonpath={" + jsonPath + "}"));
    args.addAll(List.of(flags));
    return Apply.kubectl(args.toArray(String[]::new));
  }

  @Test
  void getMoePrintsReadyWorkersBalancednessAndPlacement() {
    Apply.accepted(Manifest.example(NS, "columns"));
    writeStatus("columns", """
        {"conditions": [{"type": "Ready", "status": "True", "reason": "Serving", "message": "",
                         "lastTransitionTime": "2025-01-01T00:00:00Z"}],
         "workers": {"ready": 2, "desired": 2},
         "endpoint": "http://columns-api.%s.svc:8000/v1",
         "currentPlacement": {"revision": "columns-r1", "observedBalancedness": 0.93}}""".formatted(NS));

    List<List<String>> table = Apply.table("get", "moe", "columns", "-n", NS);
    assertEquals(List.of("NAME", "READY", "WORKERS", "BALANCEDNESS", "PLACEMENT", "AGE"), table.get(0));
    // Each column's JSON path reads the status field it names (AGE is whatever the clock says).
    assertEquals(List.of("columns", "True", "2", "0.93", "columns-r1"), table.get(1).subList(0, 5));

    List<List<String>> wide = Apply.table("get", "moe", "columns", "-n", NS, "-o", "wide");
    assertEquals(List.of("NAME", "READY", "WORKERS", "BALANCEDNESS", "PLACEMENT", "REASON", "ENDPOINT", "AGE"),
        wide.get(0));
    assertEquals("Serving", wide.get(1).get(5));
    assertEquals("http://columns-api." + NS + ".svc:8000/v1", wide.get(1).get(6));
  }

  @Test
  void kubectlScaleSetsTheWorkers() {
    Apply.accepted(Manifest.example(NS, "scaled"));
    Apply.kubectl("scale", "moe/scaled", "-n", NS, "--replicas=3");

    assertEquals("3", get("scaled", ".spec.parallelism.workers"));
    assertEquals("3", get("scaled", ".spec.replicas", "--subresource=scale"));
    try (KubernetesClient client = ControlPlane.get().adminClient()) {
      Scale scale = client.resources(MoEModel.class).inNamespace(NS).withName("scaled").scale();
      assertEquals(3, scale.getSpec().getReplicas());
    }
  }

  @Test
  void theScaleStatusIsTheDesiredWorkersAndTheirSelector() {
    // What a HorizontalPodAutoscaler reads.
    Apply.accepted(Manifest.example(NS, "scale-status"));
    writeStatus("scale-status", """
        {"workers": {"ready": 1, "desired": 2}, "selector": "moe.dev/model=scale-status"}""");

    assertEquals("2", get("scale-status", ".status.replicas", "--subresource=scale"));
    assertEquals("moe.dev/model=scale-status", get("scale-status", ".status.selector", "--subresource=scale"));
  }

  @Test
  void scalingBelowTheExpertsIsRefusedWithTheSlotsMessage() {
    // The scale subresource goes through the same CEL rules as an edit: 10 slots x 1 worker < 16 experts.
    Apply.accepted(Manifest.example(NS, "too-small"));
    Apply.assertRefused(ControlPlane.get().kubectl(null, "scale", "moe/too-small", "-n", NS, "--replicas=1"),
        () -> "kubectl scale moe/too-small --replicas=1",
        "spec.parallelism.slotsPerGpu: ", "must be at least model.expertsPerLayer: every expert needs a slot");
    assertEquals("2", get("too-small", ".spec.parallelism.workers"));
  }

  @Test
  void aStatusInAManifestIsIgnored() {
    Manifest withStatus = Manifest.example(NS, "status").set("status.phase", "Running").set("status.workers.ready", 2);
    Apply.accepted(withStatus);
    assertEquals("", get("status", ".status"), "status written through the main resource on create");

    // A user's apply cannot overwrite the status the operator wrote either, though its spec change is taken.
    writeStatus("status", "{\"phase\": \"Placing\"}");
    Apply.accepted(withStatus.set("spec.image", "ghcr.io/moe-operator/worker:0.1.1"));
    assertEquals("ghcr.io/moe-operator/worker:0.1.1", get("status", ".spec.image"));
    assertEquals("{\"phase\":\"Placing\"}", get("status", ".status"));
  }
}

package dev.moe.operator.testing;

import dev.moe.crds.v1alpha1.MoEModel;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.PodConditionBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.awaitility.Awaitility;

/** MoEModel manifests for tests, and the worker pods a kubelet would run for them. */
public final class Models {

  private Models() {}

  /**
   * A DeepSeek-V3-shaped model (58 MoE layers x 256 experts, top-8) on {@code workers} one-GPU
   * workers; {@code extra} is YAML appended under spec (placement, rebalancing).
   */
  public static String deepseek(String ns, String name, int workers, int slotsPerGpu, String extra) {
    return manifest(ns, name, """
        model: {moeLayers: 58, expertsPerLayer: 256, topK: 8, expertGroups: 8, topkGroups: 4, sharedExperts: 1,
                hiddenSize: 7168, expertIntermediateSize: 2048, dtype: fp8}
        weights: {pvc: {claimName: deepseek-v3, path: /models/deepseek-v3}}
        parallelism: {workers: %d, gpusPerWorker: 1, gpusPerNode: 8, slotsPerGpu: %d}
        """.formatted(workers, slotsPerGpu), extra);
  }

  /**
   * A small model (4 MoE layers x 16 experts, top-2) on {@code workers} one-GPU workers with 5
   * slots each; {@code extra} is YAML appended under spec.
   */
  public static String small(String ns, String name, int workers, String extra) {
    return manifest(ns, name, """
        model: {moeLayers: 4, expertsPerLayer: 16, topK: 2, expertGroups: 4, topkGroups: 2, sharedExperts: 1,
                hiddenSize: 512, expertIntermediateSize: 256, dtype: bf16}
        weights: {pvc: {claimName: small, path: /models/small}}
        parallelism: {workers: %d, gpusPerWorker: 1, gpusPerNode: 4, slotsPerGpu: 5}
        """.formatted(workers), extra);
  }

  private static String manifest(String ns, String name, String shape, String extra) {
    return """
        apiVersion: moe.dev/v1alpha1
        kind: MoEModel
        metadata:
          name: %s
          namespace: %s
        spec:
        """.formatted(name, ns) + indent(shape + "image: ghcr.io/moe-operator/worker:0.1.0\n") + indent(extra);
  }

  private static String indent(String extra) {
    return extra.isEmpty() ? "" : extra.lines().map(l -> "  " + l).reduce("", (a, b) -> a + b + "\n");
  }

  public static void namespace(KubernetesClient client, String ns) {
    client.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(ns).endMetadata().build())
        .serverSideApply();
  }

  /** Creates worker pod {@code ordinal} of a model and marks it ready, as the StatefulSet controller and kubelet would. */
  public static void readyWorker(KubernetesClient client, String ns, String model, int ordinal) {
    String name = model + "-workers-" + ordinal;
    var pod = new PodBuilder().withNewMetadata().withName(name).withNamespace(ns)
        .withLabels(Map.of("moe.dev/model", model, "app.kubernetes.io/name", "moe-worker")).endMetadata()
        .withNewSpec().addNewContainer().withName("worker").withImage("ghcr.io/moe-operator/worker:0.1.0").endContainer()
        .endSpec().build();
    var created = client.pods().inNamespace(ns).resource(pod).createOr(p -> p.update());
    created.setStatus(new io.fabric8.kubernetes.api.model.PodStatusBuilder().withPhase("Running")
        .withPodIP("10.1.0." + (ordinal + 10))
        .withConditions(new PodConditionBuilder().withType("Ready").withStatus("True").build()).build());
    client.pods().inNamespace(ns).resource(created).updateStatus();
  }

  /** Marks worker pod {@code ordinal} not ready, as a kubelet does when its node fails. */
  public static void loseWorker(KubernetesClient client, String ns, String model, int ordinal) {
    var pod = client.pods().inNamespace(ns).withName(model + "-workers-" + ordinal).get();
    pod.getStatus().setConditions(java.util.List.of(
        new PodConditionBuilder().withType("Ready").withStatus("False").build()));
    client.pods().inNamespace(ns).resource(pod).updateStatus();
  }

  public static MoEModel await(KubernetesClient client, String ns, String name, Duration timeout,
      Predicate<MoEModel> condition) {
    var resource = client.resources(MoEModel.class).inNamespace(ns).withName(name);
    Awaitility.await().atMost(timeout.toMillis(), TimeUnit.MILLISECONDS).pollInterval(Duration.ofMillis(100))
        .until(() -> {
          MoEModel m = resource.get();
          return m != null && condition.test(m);
        });
    return resource.get();
  }

  /** The reason of condition {@code type}; empty before the operator wrote it (awaited predicates see that too). */
  public static String reason(MoEModel m, String type) {
    return find(m, type).map(c -> c.getReason()).orElse("");
  }

  public static String message(MoEModel m, String type) {
    return find(m, type).map(c -> c.getMessage()).orElse("");
  }

  private static Optional<Condition> find(MoEModel m, String type) {
    if (m.getStatus() == null || m.getStatus().getConditions() == null) {
      return Optional.empty();
    }
    return m.getStatus().getConditions().stream().filter(c -> type.equals(c.getType())).findFirst();
  }

  /** Whether the status says the workers serve {@code revision} (e.g. "dsv3-r1"). */
  public static boolean serves(MoEModel m, String revision) {
    return m.getStatus() != null && m.getStatus().getCurrentPlacement() != null
        && revision.equals(m.getStatus().getCurrentPlacement().getRevision());
  }

  public static boolean condition(MoEModel m, String type, String status) {
    return m.getStatus() != null && m.getStatus().getConditions() != null && m.getStatus().getConditions().stream()
        .anyMatch(c -> type.equals(c.getType()) && status.equals(c.getStatus()));
  }
}

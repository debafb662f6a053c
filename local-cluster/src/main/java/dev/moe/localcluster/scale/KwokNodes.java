package dev.moe.localcluster.scale;

import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.util.Locale;
import java.util.Map;

/** kwok's GPU nodes ({@code up.sh --kwok} simulates them), tainted so that only pods that tolerate simulation land there. */
final class KwokNodes {

  private KwokNodes() {}

  /** Nodes {@code kwok-gpu-00} on, of {@code gpusPerNode} GPUs each. */
  static void create(KubernetesClient client, int nodes, int gpusPerNode) {
    Map<String, Quantity> capacity = Map.of("cpu", new Quantity("128"), "memory", new Quantity("2Ti"),
        "pods", new Quantity("110"), "nvidia.com/gpu", new Quantity(Integer.toString(gpusPerNode)));
    for (int n = 0; n < nodes; n++) {
      String name = String.format(Locale.ROOT, "kwok-gpu-%02d", n);
      client.nodes().resource(new NodeBuilder().withNewMetadata().withName(name)
          .withAnnotations(Map.of("kwok.x-k8s.io/node", "fake"))
          .withLabels(Map.of("kubernetes.io/hostname", name, "type", "kwok", "nvidia.com/gpu.present", "true"))
          .endMetadata()
          .withNewSpec().addNewTaint().withKey("kwok.x-k8s.io/node").withValue("fake").withEffect("NoSchedule")
          .endTaint().endSpec()
          .withNewStatus()
          .withCapacity(capacity).withAllocatable(capacity)
          .endStatus().build()).serverSideApply();
    }
  }
}

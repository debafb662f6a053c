package dev.moe.operator.workers;

import dev.moe.crds.v1alpha1.MoEModel;
import dev.moe.operator.dependent.WorkerStatefulSetDependent;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/** A model's worker pods by StatefulSet ordinal (the worker's rank), as one list of the API server. */
public final class WorkerPods {

  private WorkerPods() {}

  /** The model's worker pods that are not being deleted, by ordinal. */
  public static Map<Integer, Pod> of(KubernetesClient client, MoEModel model) {
    String prefix = WorkerStatefulSetDependent.name(model) + "-";
    Map<Integer, Pod> pods = new TreeMap<>();
    for (Pod pod : client.pods().inNamespace(model.getMetadata().getNamespace())
        .withLabels(WorkerStatefulSetDependent.selector(model)).list().getItems()) {
      String name = pod.getMetadata().getName();
      if (name.startsWith(prefix) && pod.getMetadata().getDeletionTimestamp() == null) {
        try {
          pods.put(Integer.parseInt(name.substring(prefix.length())), pod);
        } catch (NumberFormatException e) {
          // not a StatefulSet pod of ours
        }
      }
    }
    return pods;
  }

  /** The pod IPs of those of {@code workers} that have one. */
  public static Map<Integer, String> addresses(KubernetesClient client, MoEModel model, Set<Integer> workers) {
    Map<Integer, String> addresses = new TreeMap<>();
    of(client, model).forEach((ordinal, pod) -> {
      String ip = pod.getStatus() == null ? null : pod.getStatus().getPodIP();
      if (workers.contains(ordinal) && ip != null) {
        addresses.put(ordinal, ip);
      }
    });
    return addresses;
  }

  /** The pod name of worker {@code ordinal}, for messages. */
  public static String name(MoEModel model, int ordinal) {
    return WorkerStatefulSetDependent.name(model) + "-" + ordinal;
  }
}

package dev.moe.operator.reconcile;

import dev.moe.crds.v1alpha1.MoEModel;
import dev.moe.operator.dependent.WorkerStatefulSetDependent;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.readiness.Readiness;
import java.util.Set;
import java.util.TreeSet;

/** Which of a model's workers (StatefulSet ordinals) are ready, from their pods. */
record WorkerHealth(int desired, Set<Integer> ready) {

  static WorkerHealth read(KubernetesClient client, MoEModel model, int desired) {
    String prefix = WorkerStatefulSetDependent.name(model) + "-";
    Set<Integer> ready = new TreeSet<>();
    for (Pod pod : client.pods().inNamespace(model.getMetadata().getNamespace())
        .withLabels(WorkerStatefulSetDependent.selector(model)).list().getItems()) {
      String name = pod.getMetadata().getName();
      if (name.startsWith(prefix) && pod.getMetadata().getDeletionTimestamp() == null && Readiness.isPodReady(pod)) {
        try {
          int ordinal = Integer.parseInt(name.substring(prefix.length()));
          if (ordinal < desired) {
            ready.add(ordinal);
          }
        } catch (NumberFormatException e) {
          // not a StatefulSet pod of ours
        }
      }
    }
    return new WorkerHealth(desired, ready);
  }

  boolean allReady() {
    return ready.size() == desired;
  }

  Set<Integer> lost() {
    Set<Integer> lost = new TreeSet<>();
    for (int w = 0; w < desired; w++) {
      if (!ready.contains(w)) {
        lost.add(w);
      }
    }
    return lost;
  }
}

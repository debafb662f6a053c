package dev.moe.operator.reconcile;

import dev.moe.crds.v1alpha1.MoEModel;
import dev.moe.operator.workers.WorkerPods;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.readiness.Readiness;
import java.util.Set;
import java.util.TreeSet;

/** Which of a model's workers (StatefulSet ordinals) are ready, from their pods. */
record WorkerHealth(int desired, Set<Integer> ready) {

  static WorkerHealth read(KubernetesClient client, MoEModel model, int desired) {
    Set<Integer> ready = new TreeSet<>();
    WorkerPods.of(client, model).forEach((ordinal, pod) -> {
      if (ordinal < desired && Readiness.isPodReady(pod)) {
        ready.add(ordinal);
      }
    });
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

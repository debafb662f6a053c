package dev.moe.operator.reconcile;

import dev.moe.crds.v1alpha1.MoEModel;
import dev.moe.operator.workers.WorkerPods;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.apps.StatefulSetStatus;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.readiness.Readiness;
import java.util.Set;
import java.util.TreeSet;

/**
 * Which of a model's workers (StatefulSet ordinals) are ready, from their pods, and whether the
 * StatefulSet is rolling its pods onto a new template (a resize gives every worker new peers): the
 * workers it restarts then are starting, not lost.
 */
record WorkerHealth(int desired, Set<Integer> ready, boolean rollingUpdate) {

  /** @param workers the workers' StatefulSet as the informer has it; null before it exists */
  static WorkerHealth read(KubernetesClient client, MoEModel model, int desired, StatefulSet workers) {
    Set<Integer> ready = new TreeSet<>();
    WorkerPods.of(client, model).forEach((ordinal, pod) -> {
      if (ordinal < desired && Readiness.isPodReady(pod)) {
        ready.add(ordinal);
      }
    });
    // The controller moves currentRevision to updateRevision once every pod runs the new one and is ready.
    StatefulSetStatus s = workers == null ? null : workers.getStatus();
    boolean rolling = s != null && s.getUpdateRevision() != null && !s.getUpdateRevision().equals(s.getCurrentRevision());
    return new WorkerHealth(desired, ready, rolling);
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

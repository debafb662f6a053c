package dev.moe.operator.reconcile;

import dev.moe.crds.v1alpha1.MoEModel;
import dev.moe.operator.dependent.WeightsFetchContainer;
import dev.moe.operator.workers.WorkerPods;
import io.fabric8.kubernetes.api.model.ContainerStateTerminated;
import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.readiness.Readiness;
import java.util.List;
import java.util.Map;

/**
 * How the workers' {@code fetch-weights} init containers went, from their pods' status: how many
 * workers have the weights, and the first failure (a fetch that exited non-zero, also while it
 * waits in CrashLoopBackOff to be tried again) with the pod and the fetcher's message.
 */
record WeightsFetch(int desired, int fetched, String failure) {

  static WeightsFetch read(KubernetesClient client, MoEModel model, int desired) {
    String uri = model.getSpec().getWeights().getUri();
    int fetched = 0;
    String failure = null;
    for (Map.Entry<Integer, Pod> e : WorkerPods.of(client, model).entrySet()) {
      Pod pod = e.getValue();
      if (e.getKey() >= desired) {
        continue;
      }
      ContainerStatus fetch = fetchStatus(pod);
      ContainerStateTerminated done = fetch == null || fetch.getState() == null ? null : fetch.getState().getTerminated();
      if (Readiness.isPodReady(pod) || done != null && Integer.valueOf(0).equals(done.getExitCode())) {
        fetched++;
      } else if (failure == null) {
        failure = failure(uri, pod, fetch, done);
      }
    }
    return new WeightsFetch(desired, fetched, failure);
  }

  private static ContainerStatus fetchStatus(Pod pod) {
    List<ContainerStatus> statuses = pod.getStatus() == null ? null : pod.getStatus().getInitContainerStatuses();
    return statuses == null ? null : statuses.stream().filter(s -> WeightsFetchContainer.NAME.equals(s.getName()))
        .findFirst().orElse(null);
  }

  /**
   * The failure of a fetch that ended non-zero, now or on its last try (CrashLoopBackOff); null
   * while it runs or waits to start.
   */
  private static String failure(String uri, Pod pod, ContainerStatus fetch, ContainerStateTerminated done) {
    if (done == null && fetch != null && fetch.getLastState() != null) {
      done = fetch.getLastState().getTerminated();
    }
    if (done == null || done.getExitCode() == null || done.getExitCode() == 0) {
      return null;
    }
    String why = done.getMessage() == null || done.getMessage().isBlank()
        ? "exit code " + done.getExitCode() + (done.getReason() == null ? "" : " (" + done.getReason() + ")")
        : done.getMessage().strip();
    // The fetcher's own message starts with the URI; anything else (a log's tail, an exit code) gets it.
    return WeightsFetchContainer.NAME + " failed on " + pod.getMetadata().getName() + ": "
        + (why.contains(uri) ? why : uri + ": " + why);
  }
}

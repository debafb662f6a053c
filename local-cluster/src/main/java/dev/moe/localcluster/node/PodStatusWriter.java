package dev.moe.localcluster.node;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerState;
import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.ContainerStatusBuilder;
import io.fabric8.kubernetes.api.model.HostIP;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodCondition;
import io.fabric8.kubernetes.api.model.PodConditionBuilder;
import io.fabric8.kubernetes.api.model.PodIP;
import io.fabric8.kubernetes.api.model.PodStatus;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;

/** Writes what the node knows of a pod into the pod's status, and deletes pods as the kubelet does. */
final class PodStatusWriter {

  /**
   * The node's view of a pod, its init containers' statuses (those that have started) and its one
   * container; {@code pid} is null until the process runs.
   */
  record View(String phase, String reason, String message, String podIp, String startTime,
              List<ContainerStatus> initStatuses, ContainerState state, Long pid, boolean started, boolean ready) {

    /** Every init container ended with exit code 0. */
    boolean initialized(Pod pod) {
      int inits = pod.getSpec().getInitContainers() == null ? 0 : pod.getSpec().getInitContainers().size();
      return initStatuses.size() == inits && initStatuses.stream().allMatch(s -> s.getState().getTerminated() != null
          && Integer.valueOf(0).equals(s.getState().getTerminated().getExitCode()));
    }
  }

  private final KubernetesClient client;
  private final String nodeIp;

  PodStatusWriter(KubernetesClient client, String nodeIp) {
    this.client = client;
    this.nodeIp = nodeIp;
  }

  static String now() {
    return Instant.now().truncatedTo(ChronoUnit.SECONDS).toString();
  }

  /** @return false when the pod is gone */
  boolean write(Pod pod, View view) {
    Container container = Launcher.container(pod);
    return StatusUpdate.apply(client, client.pods().inNamespace(pod.getMetadata().getNamespace()).withName(pod.getMetadata().getName()),
        latest -> latest.getMetadata().getUid().equals(pod.getMetadata().getUid()),
        latest -> {
          PodStatus status = latest.getStatus() == null ? new PodStatus() : latest.getStatus();
          latest.setStatus(status);
          status.setPhase(view.phase());
          status.setReason(view.reason());
          status.setMessage(view.message());
          status.setHostIP(nodeIp);
          status.setHostIPs(List.of(new HostIP(nodeIp)));
          if (view.podIp() != null) {
            status.setPodIP(view.podIp());
            status.setPodIPs(List.of(new PodIP(view.podIp())));
          }
          status.setStartTime(view.startTime());
          List<PodCondition> conditions = new ArrayList<>(status.getConditions() == null ? List.of() : status.getConditions());
          setCondition(conditions, "PodScheduled", true);
          setCondition(conditions, "PodReadyToStartContainers", view.podIp() != null);
          setCondition(conditions, "Initialized", view.initialized(pod));
          status.setInitContainerStatuses(view.initStatuses());
          setCondition(conditions, "ContainersReady", view.ready());
          setCondition(conditions, "Ready", view.ready());
          status.setConditions(conditions);
          status.setContainerStatuses(List.of(new ContainerStatusBuilder()
              .withName(container.getName())
              .withImage(container.getImage())
              .withImageID("")
              .withContainerID(view.pid() == null ? null : "process://" + view.pid())
              .withReady(view.ready())
              .withStarted(view.started())
              .withRestartCount(0)
              .withState(view.state())
              .build()));
        });
  }

  /** Keeps a condition's lastTransitionTime while its status stays the same. */
  private static void setCondition(List<PodCondition> conditions, String type, boolean value) {
    String status = value ? "True" : "False";
    PodCondition existing = conditions.stream().filter(c -> type.equals(c.getType())).findFirst().orElse(null);
    if (existing == null) {
      conditions.add(new PodConditionBuilder().withType(type).withStatus(status).withLastTransitionTime(now()).build());
    } else if (!status.equals(existing.getStatus())) {
      existing.setStatus(status);
      existing.setLastTransitionTime(now());
    }
  }

  /** Removes the pod object at once (grace period 0), as the kubelet does once its containers are gone. */
  void delete(Pod pod) {
    var resource = client.pods().inNamespace(pod.getMetadata().getNamespace()).withName(pod.getMetadata().getName());
    Pod latest = resource.get();
    if (latest != null && latest.getMetadata().getUid().equals(pod.getMetadata().getUid())) {
      resource.withGracePeriod(0).delete();
    }
  }
}

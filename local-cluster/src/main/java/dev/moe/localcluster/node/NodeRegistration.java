package dev.moe.localcluster.node;

import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeAddress;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.NodeCondition;
import io.fabric8.kubernetes.api.model.NodeConditionBuilder;
import io.fabric8.kubernetes.api.model.NodeStatus;
import io.fabric8.kubernetes.api.model.NodeSystemInfoBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.coordination.v1.Lease;
import io.fabric8.kubernetes.api.model.coordination.v1.LeaseBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The Node object of the process node and its heartbeat: the Lease in kube-node-lease that the
 * node-lifecycle controller watches (a node whose Lease stops being renewed is marked NotReady and
 * tainted), and the Ready condition.
 */
final class NodeRegistration {

  static final String LEASE_NAMESPACE = "kube-node-lease";
  private static final int LEASE_SECONDS = 40;

  private final KubernetesClient client;
  private final String name;
  private final Map<String, String> labels;
  private final Map<String, Quantity> capacity;
  private final String nodeIp;
  private String version;

  NodeRegistration(KubernetesClient client, String name, Map<String, String> labels, Map<String, Quantity> capacity, String nodeIp) {
    this.client = client;
    this.name = name;
    this.labels = labels;
    this.capacity = capacity;
    this.nodeIp = nodeIp;
  }

  /** Creates the Node, or takes over the one a previous run left, and reports it Ready. */
  void register() {
    version = client.getKubernetesVersion().getGitVersion();
    var resource = client.nodes().withName(name);
    if (resource.get() == null) {
      client.nodes().resource(new NodeBuilder().withNewMetadata().withName(name).withLabels(labels).endMetadata().build()).create();
    } else {
      resource.edit(node -> {
        Map<String, String> merged = new HashMap<>(node.getMetadata().getLabels() == null ? Map.of() : node.getMetadata().getLabels());
        merged.putAll(labels);
        node.getMetadata().setLabels(merged);
        return node;
      });
    }
    writeStatus(true);
    renewLease();
  }

  /** Renews the Lease, and with {@code withStatus} the Ready condition's heartbeat too. */
  void heartbeat(boolean withStatus) {
    renewLease();
    if (withStatus) {
      writeStatus(true);
    }
  }

  /** The node stops: NotReady, so the scheduler places nothing more on it. */
  void markNotReady() {
    writeStatus(false);
  }

  private void writeStatus(boolean ready) {
    StatusUpdate.apply(client, client.nodes().withName(name), node -> true, node -> {
      NodeStatus status = node.getStatus() == null ? new NodeStatus() : node.getStatus();
      node.setStatus(status);
      status.setCapacity(capacity);
      status.setAllocatable(capacity);
      status.setAddresses(List.of(new NodeAddress(nodeIp, "InternalIP"), new NodeAddress(name, "Hostname")));
      status.setNodeInfo(new NodeSystemInfoBuilder().withOperatingSystem("linux").withArchitecture(arch())
          .withKubeletVersion(version).withContainerRuntimeVersion("process://").build());
      List<NodeCondition> conditions = new ArrayList<>(status.getConditions() == null ? List.of() : status.getConditions());
      setCondition(conditions, "Ready", ready, ready ? "KubeletReady" : "KubeletNotReady",
          ready ? "the process node is running" : "the process node stopped");
      setCondition(conditions, "MemoryPressure", false, "KubeletHasSufficientMemory", "not tracked by the process node");
      setCondition(conditions, "DiskPressure", false, "KubeletHasNoDiskPressure", "not tracked by the process node");
      setCondition(conditions, "PIDPressure", false, "KubeletHasSufficientPID", "not tracked by the process node");
      status.setConditions(conditions);
    });
  }

  private static void setCondition(List<NodeCondition> conditions, String type, boolean value, String reason, String message) {
    String now = PodStatusWriter.now();
    String status = value ? "True" : "False";
    NodeCondition existing = conditions.stream().filter(c -> type.equals(c.getType())).findFirst().orElse(null);
    String transition = existing != null && status.equals(existing.getStatus()) ? existing.getLastTransitionTime() : now;
    conditions.remove(existing);
    conditions.add(new NodeConditionBuilder().withType(type).withStatus(status).withReason(reason).withMessage(message)
        .withLastHeartbeatTime(now).withLastTransitionTime(transition).build());
  }

  private void renewLease() {
    var resource = client.leases().inNamespace(LEASE_NAMESPACE).withName(name);
    ZonedDateTime now = ZonedDateTime.now(ZoneOffset.UTC);
    Lease lease = resource.get();
    if (lease == null) {
      Node node = client.nodes().withName(name).get();
      client.resource(new LeaseBuilder()
          .withNewMetadata().withName(name).withNamespace(LEASE_NAMESPACE)
          // As the kubelet's: the Lease goes with its Node.
          .addNewOwnerReference().withApiVersion("v1").withKind("Node").withName(name).withUid(node.getMetadata().getUid()).endOwnerReference()
          .endMetadata()
          .withNewSpec().withHolderIdentity(name).withLeaseDurationSeconds(LEASE_SECONDS).withRenewTime(now).endSpec()
          .build()).create();
    } else {
      lease.getSpec().setHolderIdentity(name);
      lease.getSpec().setLeaseDurationSeconds(LEASE_SECONDS);
      lease.getSpec().setRenewTime(now);
      client.resource(lease).update();
    }
  }

  static String arch() {
    String arch = System.getProperty("os.arch");
    return switch (arch) {
      case "amd64", "x86_64" -> "amd64";
      case "aarch64" -> "arm64";
      default -> arch;
    };
  }
}

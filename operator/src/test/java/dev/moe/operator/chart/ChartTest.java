package dev.moe.operator.chart;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.marcnuri.helm.LintResult;
import dev.moe.operator.cluster.ControlPlane;
import dev.moe.operator.dependent.WorkerNetworkPolicyDependent;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.rbac.ClusterRole;
import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBinding;
import io.fabric8.kubernetes.api.model.rbac.Role;
import io.fabric8.kubernetes.api.model.rbac.RoleBinding;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The chart as Helm lints and renders it, with default and non-default values. */
class ChartTest {

  @Test
  void lintsCleanUnderStrict() {
    LintResult lint = Chart.helm().lint().strict().call();
    assertFalse(lint.isFailed(), String.join("\n", lint.getMessages()));
    assertTrue(lint.getMessages().stream().noneMatch(m -> m.startsWith("[WARNING]") || m.startsWith("[ERROR]")),
        String.join("\n", lint.getMessages()));
  }

  @Test
  void theChartIsVersionedWithTheProjectAndShipsTheGeneratedCrds() throws IOException {
    String chartYaml = Files.readString(Chart.DIR.resolve("Chart.yaml"));
    assertTrue(chartYaml.contains("\nversion: " + Chart.projectVersion() + "\n"), chartYaml);
    assertTrue(chartYaml.contains("\nappVersion: " + Chart.projectVersion() + "\n"), chartYaml);
    // One definition: the chart's crds/ are the files the CRD generator writes (a link to them).
    List<Path> generated = ControlPlane.crdFiles();
    try (var files = Files.list(Chart.DIR.resolve("crds"))) {
      assertEquals(generated.stream().map(p -> p.getFileName().toString()).toList(),
          files.map(p -> p.getFileName().toString()).sorted().toList());
    }
    for (Path crd : generated) {
      assertEquals(-1L, Files.mismatch(crd, Chart.DIR.resolve("crds").resolve(crd.getFileName())), crd.toString());
    }
  }

  @Test
  void defaultValuesRenderTheOperatorItsRbacAndNoMonitors() throws IOException {
    Chart chart = Chart.render("");
    assertEquals(List.of("ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "Service",
        "Deployment"), chart.kinds());

    Deployment deployment = chart.get("Deployment", Deployment.class);
    Container operator = deployment.getSpec().getTemplate().getSpec().getContainers().getFirst();
    assertEquals("ghcr.io/moe-operator/operator:" + Chart.projectVersion(), operator.getImage());
    assertEquals("JOSDK_ALL_NAMESPACES", env(operator, "QUARKUS_OPERATOR_SDK_CONTROLLERS_MOEMODEL_NAMESPACES").getValue());
    assertEquals("INFO", env(operator, "QUARKUS_LOG_LEVEL").getValue());
    assertEquals("status.podIP", env(operator, "QUARKUS_HTTP_HOST").getValueFrom().getFieldRef().getFieldPath());
    // The models' NetworkPolicies admit the operator's pods to the control port by these: its Deployment's selector.
    assertEquals("metadata.namespace", env(operator, "MOE_OPERATOR_NAMESPACE").getValueFrom().getFieldRef().getFieldPath());
    assertEquals(deployment.getSpec().getSelector().getMatchLabels(), WorkerNetworkPolicyDependent.OperatorPods
        .parse("any", env(operator, "MOE_OPERATOR_POD_SELECTOR").getValue()).labels());
    assertEquals("/q/health/ready", operator.getReadinessProbe().getHttpGet().getPath());
    assertEquals("/q/health/live", operator.getLivenessProbe().getHttpGet().getPath());
    assertEquals("http", operator.getPorts().getFirst().getName());
    assertEquals(8080, operator.getPorts().getFirst().getContainerPort());
    assertTrue(operator.getSecurityContext().getReadOnlyRootFilesystem());
    assertTrue(deployment.getSpec().getTemplate().getSpec().getSecurityContext().getRunAsNonRoot());
    assertEquals(Chart.FULLNAME, deployment.getSpec().getTemplate().getSpec().getServiceAccountName());

    // Two replicas, one of them leading: the Lease in the release's namespace, held under the pod's name.
    assertEquals(2, deployment.getSpec().getReplicas());
    assertEquals("RollingUpdate", deployment.getSpec().getStrategy().getType());
    assertEquals("true", env(operator, "MOE_LEADER_ELECTION_ENABLED").getValue());
    assertEquals("metadata.name", env(operator, "POD_NAME").getValueFrom().getFieldRef().getFieldPath());
    assertEquals("metadata.namespace", env(operator, "POD_NAMESPACE").getValueFrom().getFieldRef().getFieldPath());
    assertEquals(List.of("15s", "10s", "2s"), List.of(env(operator, "MOE_LEADER_ELECTION_LEASE_DURATION").getValue(),
        env(operator, "MOE_LEADER_ELECTION_RENEW_DEADLINE").getValue(),
        env(operator, "MOE_LEADER_ELECTION_RETRY_PERIOD").getValue()));
    // The Lease's rights are a namespaced Role's, the file's that OperatorRbacTest runs the operator under.
    Role leaderRole = Chart.SERIALIZATION.unmarshal(
        Files.readString(Chart.DIR.resolve("files/operator-leader-role.yaml")), Role.class);
    Role role = chart.get("Role", Role.class);
    assertEquals(leaderRole.getRules(), role.getRules());
    assertEquals("moe-system", role.getMetadata().getNamespace());
    assertTrue(role.getRules().stream().allMatch(r -> r.getApiGroups().equals(List.of("coordination.k8s.io"))
        && r.getResources().equals(List.of("leases"))), "leases only: " + role.getRules());
    RoleBinding roleBinding = chart.get("RoleBinding", RoleBinding.class);
    assertEquals(Chart.FULLNAME, roleBinding.getRoleRef().getName());
    assertEquals("Role", roleBinding.getRoleRef().getKind());
    assertEquals(Chart.FULLNAME, roleBinding.getSubjects().getFirst().getName());

    // The ClusterRole's rules are the file's that OperatorRbacTest runs the operator under.
    ClusterRole file = Chart.SERIALIZATION.unmarshal(
        Files.readString(Chart.DIR.resolve("files/operator-clusterrole.yaml")), ClusterRole.class);
    assertEquals(file.getRules(), chart.get("ClusterRole", ClusterRole.class).getRules());
    ClusterRoleBinding binding = chart.get("ClusterRoleBinding", ClusterRoleBinding.class);
    assertEquals(Chart.FULLNAME, binding.getRoleRef().getName());
    assertEquals(Chart.FULLNAME, binding.getSubjects().getFirst().getName());
    assertEquals("moe-system", binding.getSubjects().getFirst().getNamespace());
  }

  @Test
  void nonDefaultValuesReachTheObjects() throws IOException {
    Chart chart = Chart.render("""
        image: {tag: 1.2.3, pullPolicy: Always}
        watchNamespaces: [team-a, team-b]
        logLevel: DEBUG
        nodeSelector: {node-role/operators: "true"}
        metrics:
          serviceMonitor: {enabled: true}
          podMonitor: {enabled: true}
        grafanaDashboard: {enabled: true}
        replicas: 1
        leaderElection: {enabled: false}
        """);
    // Without leader election: one replica, no Lease rights, and an upgrade stops the old pod first.
    assertEquals(List.of("ServiceAccount", "ConfigMap", "ClusterRole", "ClusterRoleBinding", "Service", "Deployment",
        "PodMonitor", "ServiceMonitor"), chart.kinds());

    Deployment deployment = chart.get("Deployment", Deployment.class);
    Container operator = deployment.getSpec().getTemplate().getSpec().getContainers().getFirst();
    assertEquals("ghcr.io/moe-operator/operator:1.2.3", operator.getImage());
    assertEquals("Always", operator.getImagePullPolicy());
    assertEquals("team-a,team-b", env(operator, "QUARKUS_OPERATOR_SDK_CONTROLLERS_MOEMODEL_NAMESPACES").getValue());
    assertEquals("DEBUG", env(operator, "QUARKUS_LOG_LEVEL").getValue());
    assertEquals(Map.of("node-role/operators", "true"), deployment.getSpec().getTemplate().getSpec().getNodeSelector());
    assertEquals(1, deployment.getSpec().getReplicas());
    assertEquals("Recreate", deployment.getSpec().getStrategy().getType());
    assertEquals("false", env(operator, "MOE_LEADER_ELECTION_ENABLED").getValue());
    assertTrue(operator.getEnv().stream().noneMatch(e -> e.getName().equals("POD_NAME")));

    GenericKubernetesResource serviceMonitor = chart.find("ServiceMonitor").orElseThrow();
    Map<String, Object> endpoint = first(serviceMonitor, "endpoints");
    assertEquals("http", endpoint.get("port"));
    assertEquals("/q/metrics", endpoint.get("path"));
    assertEquals(true, endpoint.get("honorLabels"));

    GenericKubernetesResource podMonitor = chart.find("PodMonitor").orElseThrow();
    assertEquals(Map.of("matchNames", List.of("team-a", "team-b")),
        podMonitor.get("spec", "namespaceSelector"));
    assertEquals(Map.of("app.kubernetes.io/name", "moe-worker"), podMonitor.get("spec", "selector", "matchLabels"));
    Map<String, Object> pods = first(podMonitor, "podMetricsEndpoints");
    assertEquals("http", pods.get("port"));
    assertEquals("/metrics", pods.get("path"));
    assertEquals(List.of(Map.of("sourceLabels", List.of("__meta_kubernetes_pod_label_moe_dev_model"),
        "targetLabel", "model")), pods.get("relabelings"));

    ConfigMap dashboard = chart.get("ConfigMap", ConfigMap.class);
    assertEquals("1", dashboard.getMetadata().getLabels().get("grafana_dashboard"));
    assertEquals(Files.readString(Chart.DIR.resolve("dashboards/moe-operator.json")).strip(),
        dashboard.getData().get("moe-operator.json").strip());
  }

  @Test
  void leaseTimesReachTheOperatorAndReplicasNeedLeaderElection() {
    Container operator = Chart.render("leaderElection: {enabled: true, leaseDuration: 6s, renewDeadline: 4s,"
        + " retryPeriod: 500ms}").get("Deployment", Deployment.class).getSpec().getTemplate().getSpec().getContainers()
        .getFirst();
    assertEquals(List.of("6s", "4s", "500ms"), List.of(env(operator, "MOE_LEADER_ELECTION_LEASE_DURATION").getValue(),
        env(operator, "MOE_LEADER_ELECTION_RENEW_DEADLINE").getValue(),
        env(operator, "MOE_LEADER_ELECTION_RETRY_PERIOD").getValue()));
    IllegalStateException e = assertThrows(IllegalStateException.class,
        () -> Chart.render("replicas: 2\nleaderElection: {enabled: false}"));
    assertTrue(e.getMessage().contains("replicas above 1 need leaderElection.enabled"), e.getMessage());
  }

  @Test
  void theSchemaRefusesBadValuesSayingWhichAndWhy() {
    assertRefused("logLevel: LOUD",
        "at '/logLevel': value must be one of 'OFF', 'FATAL', 'ERROR', 'WARN', 'INFO', 'DEBUG', 'TRACE', 'ALL'");
    assertRefused("image: {pullPolicy: Sometimes}", "at '/image/pullPolicy': value must be one of");
    assertRefused("watchNamespaces: [Team_A]", "at '/watchNamespaces/0'");
    assertRefused("watchNamespaces: team-a", "at '/watchNamespaces': got string, want array");
    assertRefused("metrics: {podMonitor: {enabled: true, interval: often}}", "at '/metrics/podMonitor/interval'");
    assertRefused("replicaCount: 2", "additional properties 'replicaCount' not allowed");
    assertRefused("replicas: 0", "at '/replicas'");
    assertRefused("leaderElection: {enabled: true, leaseDuration: long}", "at '/leaderElection/leaseDuration'");
  }

  private static void assertRefused(String values, String message) {
    IllegalStateException e = assertThrows(IllegalStateException.class, () -> Chart.render(values));
    assertTrue(e.getMessage().contains("values don't meet the specifications of the schema"), e.getMessage());
    assertTrue(e.getMessage().contains(message), e.getMessage());
  }

  private static EnvVar env(Container container, String name) {
    return container.getEnv().stream().filter(e -> name.equals(e.getName())).findFirst()
        .orElseThrow(() -> new AssertionError("no env " + name));
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> first(GenericKubernetesResource monitor, String list) {
    return ((List<Map<String, Object>>) monitor.get("spec", list)).getFirst();
  }
}

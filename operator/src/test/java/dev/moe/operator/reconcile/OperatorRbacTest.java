package dev.moe.operator.reconcile;

import dev.moe.operator.cluster.ControlPlane;
import dev.moe.operator.testing.Models;
import dev.moe.operator.testing.OperatorRbac;
import io.fabric8.kubernetes.api.model.ServiceAccountBuilder;
import io.fabric8.kubernetes.api.model.rbac.ClusterRole;
import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBindingBuilder;
import io.fabric8.kubernetes.api.model.rbac.Role;
import io.fabric8.kubernetes.api.model.rbac.RoleBindingBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.IOException;
import java.nio.file.Files;
import org.junit.jupiter.api.Test;

/** The operator under its own ServiceAccount, bound to exactly the ClusterRole and Role the chart ships. */
class OperatorRbacTest {

  static final String CLUSTER_ROLE = "charts/moe-operator/files/operator-clusterrole.yaml";
  static final String LEADER_ROLE = "charts/moe-operator/files/operator-leader-role.yaml";

  @Test
  void theChartsClusterRoleIsEnoughAndNoMore() throws IOException {
    try (KubernetesClient admin = ControlPlane.get().adminClient()) {
      Models.namespace(admin, "moe-system");
      admin.serviceAccounts().inNamespace("moe-system").resource(new ServiceAccountBuilder().withNewMetadata()
          .withName("moe-operator").endMetadata().build()).serverSideApply();
      ClusterRole role = admin.getKubernetesSerialization().unmarshal(
          Files.readString(ControlPlane.repoRoot().resolve(CLUSTER_ROLE)), ClusterRole.class);
      admin.resource(role).serverSideApply();
      admin.resource(new ClusterRoleBindingBuilder().withNewMetadata().withName("moe-operator").endMetadata()
          .withNewRoleRef().withApiGroup("rbac.authorization.k8s.io").withKind("ClusterRole").withName("moe-operator")
          .endRoleRef().addNewSubject().withKind("ServiceAccount").withName("moe-operator").withNamespace("moe-system")
          .endSubject().build()).serverSideApply();
      Role leader = admin.getKubernetesSerialization().unmarshal(
          Files.readString(ControlPlane.repoRoot().resolve(LEADER_ROLE)), Role.class);
      leader.getMetadata().setNamespace("moe-system");
      admin.resource(leader).serverSideApply();
      admin.resource(new RoleBindingBuilder().withNewMetadata().withName("moe-operator").withNamespace("moe-system")
          .endMetadata().withNewRoleRef().withApiGroup("rbac.authorization.k8s.io").withKind("Role")
          .withName("moe-operator").endRoleRef().addNewSubject().withKind("ServiceAccount").withName("moe-operator")
          .withNamespace("moe-system").endSubject().build()).serverSideApply();
      OperatorRbac.operatorServesAModelAs(admin, "moe-system", "moe-operator", "rbac");
    }
  }
}

package dev.moe.operator.reconcile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.moe.crds.v1alpha1.MoEModel;
import dev.moe.operator.cluster.ControlPlane;
import dev.moe.operator.testing.Models;
import dev.moe.operator.testing.RunningOperator;
import dev.moe.operator.testing.Scenario;
import io.fabric8.kubernetes.api.model.ServiceAccountBuilder;
import io.fabric8.kubernetes.api.model.authentication.TokenRequestBuilder;
import io.fabric8.kubernetes.api.model.rbac.ClusterRole;
import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBindingBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.io.IOException;
import java.nio.file.Files;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The operator under its own ServiceAccount, bound to exactly the ClusterRole the chart ships. */
class OperatorRbacTest {

  static final String CLUSTER_ROLE = "charts/moe-operator/files/operator-clusterrole.yaml";

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
      String token = admin.serviceAccounts().inNamespace("moe-system").withName("moe-operator")
          .tokenRequest(new TokenRequestBuilder().withNewSpec().withExpirationSeconds(3600L).endSpec().build())
          .getStatus().getToken();

      try (KubernetesClient asOperator = ControlPlane.get().tokenClient(token);
          RunningOperator operator = new RunningOperator(asOperator)) {
        Scenario s = new Scenario(admin, "rbac");
        s.apply(Models.deepseek(s.ns, "dsv3", 32, 9, "placement: {timeLimit: 2s}\nrebalancing: {mode: \"Off\"}\n"));
        s.readyWorkers("dsv3", 32);
        MoEModel m = s.await("dsv3", Duration.ofSeconds(60), x -> Models.condition(x, "Ready", "True"));
        assertEquals("dsv3-r1", m.getStatus().getCurrentPlacement().getRevision());

        // What the role leaves out is really out: the user's spec, other cluster-scoped objects.
        KubernetesClientException specWrite = assertThrows(KubernetesClientException.class,
            () -> asOperator.resources(MoEModel.class).inNamespace("rbac").withName("dsv3").delete());
        assertEquals(403, specWrite.getCode());
        RunningOperator.deleteAllModels(admin);
        KubernetesClientException nodes = assertThrows(KubernetesClientException.class,
            () -> asOperator.nodes().list());
        assertEquals(403, nodes.getCode());
      }
    }
  }
}

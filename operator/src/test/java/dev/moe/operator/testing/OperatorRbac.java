package dev.moe.operator.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.moe.crds.v1alpha1.MoEModel;
import dev.moe.operator.cluster.ControlPlane;
import io.fabric8.kubernetes.api.model.authentication.TokenRequestBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.javaoperatorsdk.operator.api.config.LeaderElectionConfigurationBuilder;
import java.time.Duration;

/**
 * Proves a ServiceAccount holds what the operator needs and no more: the operator, authenticated
 * with nothing but the account's token and elected leader through a Lease in the account's
 * namespace (as the chart runs it), takes a DeepSeek-V3-shaped model to Ready (workers, their
 * credentials, a placement, status), yet may neither delete the user's model, nor list Nodes, nor
 * touch a Lease other than its own.
 */
public final class OperatorRbac {

  /** The chart's Lease name (operator's application.properties, charts/moe-operator/files/operator-leader-role.yaml). */
  static final String LEASE = "moe-operator-leader";

  private OperatorRbac() {}

  public static void operatorServesAModelAs(KubernetesClient admin, String saNamespace, String saName,
      String modelNamespace) {
    String token = admin.serviceAccounts().inNamespace(saNamespace).withName(saName)
        .tokenRequest(new TokenRequestBuilder().withNewSpec().withExpirationSeconds(3600L).endSpec().build())
        .getStatus().getToken();
    var election = LeaderElectionConfigurationBuilder.aLeaderElectionConfiguration(LEASE)
        .withLeaseNamespace(saNamespace).withIdentity("operator-0")
        // A test must not end its JVM when the operator stops leading.
        .withExitOnStopLeading(false).build();
    try (KubernetesClient asOperator = ControlPlane.get().tokenClient(token);
        RunningOperator operator = new RunningOperator(asOperator, election)) {
      Scenario s = new Scenario(admin, modelNamespace);
      s.apply(Models.deepseek(s.ns, "dsv3", 32, 9, "placement: {timeLimit: 2s}\nrebalancing: {mode: \"Off\"}\n"));
      s.readyWorkers("dsv3", 32);
      MoEModel m = s.await("dsv3", Duration.ofSeconds(60), x -> Models.condition(x, "Ready", "True"));
      assertEquals("dsv3-r1", m.getStatus().getCurrentPlacement().getRevision());
      assertEquals("operator-0", admin.leases().inNamespace(saNamespace).withName(LEASE).get().getSpec()
          .getHolderIdentity());

      // What the role leaves out is really out: the user's spec, other cluster-scoped objects.
      KubernetesClientException specWrite = assertThrows(KubernetesClientException.class,
          () -> asOperator.resources(MoEModel.class).inNamespace(modelNamespace).withName("dsv3").delete());
      assertEquals(403, specWrite.getCode());
      RunningOperator.deleteAllModels(admin);
      KubernetesClientException nodes = assertThrows(KubernetesClientException.class,
          () -> asOperator.nodes().list());
      assertEquals(403, nodes.getCode());
      KubernetesClientException otherLease = assertThrows(KubernetesClientException.class,
          () -> asOperator.leases().inNamespace(saNamespace).withName("kube-scheduler").get());
      assertEquals(403, otherLease.getCode());
    }
  }
}

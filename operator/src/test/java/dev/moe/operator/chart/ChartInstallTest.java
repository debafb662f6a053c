package dev.moe.operator.chart;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import com.marcnuri.helm.Helm;
import com.marcnuri.helm.Release;
import dev.moe.operator.cluster.ControlPlane;
import dev.moe.operator.testing.OperatorRbac;
import io.fabric8.kubernetes.api.model.ServiceAccount;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.rbac.ClusterRole;
import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBinding;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/** helm install, upgrade and uninstall of the chart into the real kube-apiserver of the operator's tests. */
class ChartInstallTest {

  private static final String NS = "moe-chart";

  @AfterAll
  static void cleanUp() {
    Helm.uninstall(Chart.RELEASE).withNamespace(NS).withKubeConfig(ControlPlane.get().kubeconfig()).ignoreNotFound()
        .call();
    // The next tests need the CRDs, whatever happened here.
    ControlPlane.get().installCrds();
  }

  @Test
  void installsWithItsCrdsRunsTheOperatorUnderItsRbacUpgradesAndUninstalls() throws IOException {
    Path kubeconfig = ControlPlane.get().kubeconfig();
    try (KubernetesClient admin = ControlPlane.get().adminClient()) {
      // Helm installs a chart's CRDs only where they are missing: take away the ones the tests applied.
      List<String> crds = ControlPlane.crdFiles().stream().map(f -> admin.getKubernetesSerialization()
          .unmarshal(read(f), CustomResourceDefinition.class).getMetadata().getName()).toList();
      for (String crd : crds) {
        admin.apiextensions().v1().customResourceDefinitions().withName(crd).delete();
        admin.apiextensions().v1().customResourceDefinitions().withName(crd).waitUntilCondition(c -> c == null,
            60, TimeUnit.SECONDS);
      }

      Release installed = Chart.helm().install().withName(Chart.RELEASE).withNamespace(NS).createNamespace()
          .withKubeConfig(kubeconfig).call();
      assertEquals("deployed", installed.getStatus());
      for (String crd : crds) {
        admin.apiextensions().v1().customResourceDefinitions().withName(crd).waitUntilCondition(c -> c != null
            && c.getStatus() != null && c.getStatus().getConditions().stream()
                .anyMatch(x -> "Established".equals(x.getType()) && "True".equals(x.getStatus())),
            60, TimeUnit.SECONDS);
      }
      Deployment deployment = admin.apps().deployments().inNamespace(NS).withName(Chart.FULLNAME).get();
      assertEquals("ghcr.io/moe-operator/operator:" + Chart.projectVersion(),
          deployment.getSpec().getTemplate().getSpec().getContainers().getFirst().getImage());
      assertNotNull(admin.resources(ServiceAccount.class).inNamespace(NS).withName(Chart.FULLNAME).get());
      assertNotNull(admin.services().inNamespace(NS).withName(Chart.FULLNAME).get());

      // The chart's ServiceAccount, through its ClusterRoleBinding, is all the operator needs.
      OperatorRbac.operatorServesAModelAs(admin, NS, Chart.FULLNAME, "chart-rbac");

      Release upgraded = Helm.upgrade(Chart.DIR.toString()).withName(Chart.RELEASE).withNamespace(NS)
          .withKubeConfig(kubeconfig).set("logLevel", "DEBUG").call();
      assertEquals("2", upgraded.getRevision());
      assertEquals("DEBUG", admin.apps().deployments().inNamespace(NS).withName(Chart.FULLNAME).get().getSpec()
          .getTemplate().getSpec().getContainers().getFirst().getEnv().stream()
          .filter(e -> "QUARKUS_LOG_LEVEL".equals(e.getName())).findFirst().orElseThrow().getValue());

      Helm.uninstall(Chart.RELEASE).withNamespace(NS).withKubeConfig(kubeconfig).call();
      assertNull(admin.apps().deployments().inNamespace(NS).withName(Chart.FULLNAME).get());
      assertNull(admin.resources(ClusterRole.class).withName(Chart.FULLNAME).get());
      assertNull(admin.resources(ClusterRoleBinding.class).withName(Chart.FULLNAME).get());
      assertNull(admin.resources(ServiceAccount.class).inNamespace(NS).withName(Chart.FULLNAME).get());
      // Helm never deletes CRDs: the users' models outlive the operator's release.
      for (String crd : crds) {
        assertNotNull(admin.apiextensions().v1().customResourceDefinitions().withName(crd).get());
      }
    }
  }

  @Test
  void theHpaExampleIsAcceptedByTheApiServer() {
    var applied = ControlPlane.get().kubectl(null, "apply", "--dry-run=server", "-f",
        Chart.DIR.resolve("examples/hpa.yaml").toString());
    assertEquals(0, applied.exitCode(), applied.stderr());
  }

  private static String read(Path file) {
    try {
      return Files.readString(file);
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }
}

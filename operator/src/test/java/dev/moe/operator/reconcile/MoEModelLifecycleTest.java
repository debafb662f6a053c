package dev.moe.operator.reconcile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moe.crds.v1alpha1.ExpertPlacement;
import dev.moe.crds.v1alpha1.MoEModel;
import dev.moe.crds.v1alpha1.Phase;
import dev.moe.operator.cluster.ControlPlane;
import dev.moe.operator.cluster.Kubectl;
import dev.moe.operator.testing.ArgoCdHealth;
import dev.moe.operator.testing.ArgoCdHealth.Health;
import dev.moe.operator.testing.Models;
import dev.moe.operator.testing.RunningOperator;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.ServiceSpec;
import io.fabric8.kubernetes.api.model.ServiceAccount;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.rbac.Role;
import io.fabric8.kubernetes.api.model.rbac.RoleBinding;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.IOException;
import java.nio.file.Files;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Create, scale and re-apply a MoEModel against the real API server; Argo CD's view of its health. */
class MoEModelLifecycleTest {

  private static final String NS = "lifecycle";
  private static KubernetesClient client;
  private static RunningOperator operator;

  @BeforeAll
  static void start() {
    client = ControlPlane.get().adminClient();
    Models.namespace(client, NS);
    operator = new RunningOperator(client);
  }

  @AfterAll
  static void stop() {
    RunningOperator.deleteAllModels(client);
    operator.close();
    client.close();
  }

  private static String manifest(String name, int workers, int slotsPerGpu) {
    return Models.deepseek(NS, name, workers, slotsPerGpu, """
        placement: {timeLimit: 2s}
        rebalancing: {mode: Observe}
        """);
  }

  @Test
  void createMakesTheWorkersTheirCredentialsAndAPlacementThenServes() {
    Kubectl.Result applied = ControlPlane.get().kubectl(manifest("created", 32, 9), "apply", "-f", "-");
    assertEquals(0, applied.exitCode(), applied.stderr());
    MoEModel m = Models.await(client, NS, "created", Duration.ofSeconds(30),
        x -> Models.condition(x, "PlacementReady", "True"));
    StatefulSet sts = client.apps().statefulSets().inNamespace(NS).withName("created-workers").get();
    assertEquals(32, sts.getSpec().getReplicas());
    assertEquals("created-worker", sts.getSpec().getTemplate().getSpec().getServiceAccountName());
    assertEquals("None", client.services().inNamespace(NS).withName("created-workers").get().getSpec().getClusterIP());
    ServiceSpec api = client.services().inNamespace(NS).withName("created-api").get().getSpec();
    assertEquals("ClusterIP", api.getType());
    assertEquals(Map.of("moe.dev/model", "created", "app.kubernetes.io/name", "moe-worker"), api.getSelector());
    assertEquals(8000, api.getPorts().getFirst().getPort());
    assertEquals("api", api.getPorts().getFirst().getTargetPort().getStrVal());
    assertEquals("http://created-api.lifecycle.svc:8000/v1", m.getStatus().getEndpoint());
    assertNotNull(client.resources(ServiceAccount.class).inNamespace(NS).withName("created-worker").get());
    assertNotNull(client.resources(Role.class).inNamespace(NS).withName("created-worker").get());
    assertNotNull(client.resources(RoleBinding.class).inNamespace(NS).withName("created-worker").get());
    Secret token = client.secrets().inNamespace(NS).withName("created-stats-token").get();
    assertTrue(token.getData().get("token").length() > 40);
    ExpertPlacement r1 = client.resources(ExpertPlacement.class).inNamespace(NS).withName("created-r1").get();
    assertEquals(58, r1.getSpec().getPhysicalToLogicalMap().size());
    assertEquals(32 * 9, r1.getSpec().getPhysicalToLogicalMap().getFirst().size());
    assertEquals(m.getMetadata().getUid(), r1.getMetadata().getOwnerReferences().getFirst().getUid());
    assertEquals("Starting", m.getStatus().getPhase().name());
    assertEquals("WorkersStarting", Models.reason(m, "Ready"));
    assertEquals(new Health("Progressing", "WorkersStarting: 0 of 32 workers ready"),
        ArgoCdHealth.of(client, NS, "created"));

    for (int w = 0; w < 32; w++) {
      Models.readyWorker(client, NS, "created", w);
    }
    m = Models.await(client, NS, "created", Duration.ofSeconds(30), x -> Models.condition(x, "Ready", "True"));
    assertEquals(Phase.Running, m.getStatus().getPhase());
    assertEquals("created-r1", m.getStatus().getCurrentPlacement().getRevision());
    assertEquals(32, m.getStatus().getWorkers().getReady());
    assertTrue(operator.workers.published(NS, "created").contains(1L));
    assertEquals(new Health("Healthy", "all workers serve created-r1"), ArgoCdHealth.of(client, NS, "created"));
    // A spec the operator has not seen yet: its status says nothing about it.
    ObjectNode edited = ArgoCdHealth.live(client, NS, "created");
    long generation = edited.get("metadata").get("generation").asLong();
    ((ObjectNode) edited.get("metadata")).put("generation", generation + 1);
    assertEquals(new Health("Progressing", "Waiting for the operator to reconcile generation " + (generation + 1)),
        ArgoCdHealth.of(edited));
    // The token survives reconciles: workers keep theirs.
    assertEquals(token.getData(), client.secrets().inNamespace(NS).withName("created-stats-token").get().getData());
  }

  @Test
  void kubectlScaleMovesTheWorkersAndThePlacement() {
    Kubectl.Result applied = ControlPlane.get().kubectl(manifest("scaled", 16, 16), "apply", "-f", "-");
    assertEquals(0, applied.exitCode(), applied.stderr());
    Models.await(client, NS, "scaled", Duration.ofSeconds(30), x -> Models.condition(x, "PlacementReady", "True"));
    Kubectl.Result scaled = ControlPlane.get().kubectl(null, "-n", NS, "scale", "moe/scaled", "--replicas=32");
    assertEquals(0, scaled.exitCode(), scaled.stderr());
    Models.await(client, NS, "scaled", Duration.ofSeconds(30), x -> x.getStatus().getWorkers().getDesired() == 32
        && client.resources(ExpertPlacement.class).inNamespace(NS).withName("scaled-r2").get() != null);
    assertEquals(32, client.apps().statefulSets().inNamespace(NS).withName("scaled-workers").get().getSpec().getReplicas());
    assertEquals(32 * 16, client.resources(ExpertPlacement.class).inNamespace(NS).withName("scaled-r2").get()
        .getSpec().getPhysicalToLogicalMap().getFirst().size());
    Kubectl.Result scale = ControlPlane.get().kubectl(null, "-n", NS, "get", "moe/scaled", "--subresource=scale",
        "-o", "jsonpath={.spec.replicas}/{.status.replicas}/{.status.selector}");
    assertEquals("32/32/app.kubernetes.io/name=moe-worker,moe.dev/model=scaled", scale.stdout());
  }

  @Test
  void gitOpsReapplyOfTheUsersManifestSeesNoConflictAndNoChange() {
    String manifest = manifest("gitops", 16, 18);
    Kubectl.Result applied = ControlPlane.get().kubectl(manifest, "apply", "--server-side",
        "--field-manager=argocd", "-f", "-");
    assertEquals(0, applied.exitCode(), applied.stderr());
    MoEModel before = Models.await(client, NS, "gitops", Duration.ofSeconds(30),
        x -> Models.condition(x, "PlacementReady", "True"));
    Kubectl.Result again = ControlPlane.get().kubectl(manifest, "apply", "--server-side", "--field-manager=argocd",
        "-f", "-");
    assertEquals(0, again.exitCode(), again.stderr());
    assertTrue(again.stdout().contains("serverside-applied"), again.stdout());
    MoEModel after = client.resources(MoEModel.class).inNamespace(NS).withName("gitops").get();
    assertEquals(before.getMetadata().getGeneration(), after.getMetadata().getGeneration());
    Kubectl.Result diff = ControlPlane.get().kubectl(manifest, "diff", "--server-side", "--field-manager=argocd",
        "-f", "-");
    assertEquals(0, diff.exitCode(), diff.stdout() + diff.stderr());
    for (var f : after.getMetadata().getManagedFields()) {
      if ("moe-operator".equals(f.getManager())) {
        assertEquals("status", f.getSubresource(), "the operator writes only the status of a MoEModel");
      }
    }
    StatefulSet sts = client.apps().statefulSets().inNamespace(NS).withName("gitops-workers").get();
    assertTrue(sts.getMetadata().getManagedFields().stream().anyMatch(f -> "moe-operator".equals(f.getManager())));
  }

  /** The manifests users copy (the examples, the demo's and the scale scenario's models, the HPA): no drift either. */
  @ParameterizedTest
  @ValueSource(strings = {"crds/examples/moemodel-small.yaml", "local-cluster/demo/deepseek-v3-mini.yaml",
      "local-cluster/scale/deepseek-v3.yaml", "charts/moe-operator/examples/hpa.yaml"})
  void exampleManifestsReappliedServerSideChangeNothing(String file) throws IOException {
    String manifest = Files.readString(ControlPlane.repoRoot().resolve(file));
    String ns = client.getKubernetesSerialization().unmarshal(manifest, HasMetadata.class).getMetadata().getNamespace();
    client.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(ns).endMetadata().build())
        .serverSideApply();
    Kubectl.Result applied = ControlPlane.get().kubectl(manifest, "apply", "--server-side", "--field-manager=argocd",
        "-f", "-");
    assertEquals(0, applied.exitCode(), applied.stderr());
    Kubectl.Result again = ControlPlane.get().kubectl(manifest, "apply", "--server-side", "--field-manager=argocd",
        "-f", "-");
    assertEquals(0, again.exitCode(), again.stderr());
    Kubectl.Result diff = ControlPlane.get().kubectl(manifest, "diff", "--server-side", "--field-manager=argocd",
        "-f", "-");
    assertEquals(0, diff.exitCode(), file + " drifts after a second server-side apply:\n" + diff.stdout()
        + diff.stderr());
    assertEquals(0, ControlPlane.get().kubectl(manifest, "delete", "-f", "-").exitCode());
  }

}

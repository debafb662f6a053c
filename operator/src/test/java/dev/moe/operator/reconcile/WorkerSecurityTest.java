package dev.moe.operator.reconcile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moe.crds.v1alpha1.MoEModel;
import dev.moe.operator.cluster.ControlPlane;
import dev.moe.operator.dependent.WorkerNetworkPolicyDependent;
import dev.moe.operator.dependent.WorkerNetworkPolicyDependent.OperatorPods;
import dev.moe.operator.testing.Models;
import dev.moe.operator.testing.RunningOperator;
import dev.moe.operator.testing.Scenario;
import dev.moe.operator.tls.ModelCertificates;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.KeyToPath;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyIngressRule;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.nio.charset.StandardCharsets;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The model's worker certificate (issued into a Secret, mounted, renewed) and its NetworkPolicy,
 * on the real API server. Whether the policy is enforced is the network plugin's business: only a
 * cluster with one can show it; here its content is checked.
 */
class WorkerSecurityTest {

  private static final String NS = "security";
  private static KubernetesClient client;
  private static RunningOperator operator;
  private static Scenario s;

  @BeforeAll
  static void start() {
    client = ControlPlane.get().adminClient();
    s = new Scenario(client, NS);
    operator = new RunningOperator(client);
  }

  @AfterAll
  static void stop() {
    RunningOperator.deleteAllModels(client);
    operator.close();
    client.close();
  }

  private static Secret tls(String model) {
    return Awaitility.await().atMost(Duration.ofSeconds(30))
        .until(() -> client.secrets().inNamespace(NS).withName(model + "-tls").get(), x -> x != null);
  }

  private static String value(Secret secret, String key) {
    return new String(Base64.getDecoder().decode(secret.getData().get(key)), StandardCharsets.US_ASCII);
  }

  @Test
  void theOperatorIssuesTheModelsCertificateAndTheWorkersMountItWithoutTheCaKey() throws Exception {
    s.apply(Models.deepseek(NS, "issued", 32, 9, "placement: {timeLimit: 2s}\n"));
    Secret secret = tls("issued");
    assertEquals("kubernetes.io/tls", secret.getType());
    X509Certificate ca = ModelCertificates.certificate(value(secret, "ca.crt"));
    X509Certificate leaf = ModelCertificates.certificate(value(secret, "tls.crt"));
    leaf.verify(ca.getPublicKey());
    assertEquals(ca.getSubjectX500Principal(), leaf.getIssuerX500Principal());
    assertTrue(leaf.getSubjectAlternativeNames().stream().anyMatch(n -> n.get(1).equals("*.issued-workers.security.svc")),
        leaf.getSubjectAlternativeNames().toString());
    assertTrue(leaf.getExtendedKeyUsage().containsAll(List.of("1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2")),
        "server and client authentication");
    assertTrue(value(secret, "tls.key").contains("BEGIN PRIVATE KEY") && value(secret, "ca.key").contains("BEGIN PRIVATE KEY"));

    StatefulSet sts = Awaitility.await().atMost(Duration.ofSeconds(30)).until(
        () -> client.apps().statefulSets().inNamespace(NS).withName("issued-workers").get(), x -> x != null);
    Volume volume = sts.getSpec().getTemplate().getSpec().getVolumes().stream()
        .filter(v -> v.getSecret() != null && "issued-tls".equals(v.getSecret().getSecretName())).findFirst().orElseThrow();
    assertEquals(List.of("tls.crt", "tls.key", "ca.crt"), volume.getSecret().getItems().stream().map(KeyToPath::getKey).toList(),
        "the CA key stays with the operator");
    Container worker = sts.getSpec().getTemplate().getSpec().getContainers().getFirst();
    String mount = worker.getVolumeMounts().stream().filter(m -> m.getName().equals(volume.getName())).findFirst()
        .orElseThrow().getMountPath();
    assertTrue(worker.getArgs().containsAll(List.of("--tls-cert=" + mount + "/tls.crt", "--tls-key=" + mount + "/tls.key",
        "--tls-ca=" + mount + "/ca.crt", "--control=0.0.0.0:8443")), worker.getArgs().toString());
    assertTrue(worker.getPorts().stream().anyMatch(p -> p.getContainerPort() == 8443 && p.getName().equals("control")));

    // Reconciles keep the certificate while it has time left.
    Thread.sleep(2_000);
    assertEquals(secret.getData(), client.secrets().inNamespace(NS).withName("issued-tls").get().getData());
  }

  /**
   * With {@code api.keySecret} the workers get the key file and the API asks for it; while the
   * Secret or its key is missing, WorkersReady and Ready say so (a Warning Event) instead of pods
   * that wait in ContainerCreating saying nothing the model shows.
   */
  @Test
  void anApiKeySecretIsMountedAndAMissingOneIsNamed() {
    s.apply(Models.deepseek(NS, "keyed", 32, 9, "placement: {timeLimit: 2s}\napi: {keySecret: keyed-api}\n"));
    MoEModel missing = Models.await(client, NS, "keyed", Duration.ofSeconds(30),
        m -> "ApiKeyMissing".equals(Models.reason(m, "WorkersReady")));
    assertTrue(Models.message(missing, "WorkersReady").contains("the Secret security/keyed-api is missing or has no"
        + " key 'api-key'"), Models.message(missing, "WorkersReady"));
    assertEquals("ApiKeyMissing", Models.reason(missing, "Ready"));
    Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> s.events("keyed").stream().anyMatch(e ->
        "ApiKeyMissing".equals(e.getReason()) && "Warning".equals(e.getType())));

    StatefulSet sts = Awaitility.await().atMost(Duration.ofSeconds(30)).until(
        () -> client.apps().statefulSets().inNamespace(NS).withName("keyed-workers").get(), x -> x != null);
    Volume volume = sts.getSpec().getTemplate().getSpec().getVolumes().stream()
        .filter(v -> v.getSecret() != null && "keyed-api".equals(v.getSecret().getSecretName())).findFirst().orElseThrow();
    Container worker = sts.getSpec().getTemplate().getSpec().getContainers().getFirst();
    String mount = worker.getVolumeMounts().stream().filter(m -> m.getName().equals(volume.getName())).findFirst()
        .orElseThrow().getMountPath();
    assertTrue(worker.getArgs().contains("--api-key-file=" + mount + "/api-key"), worker.getArgs().toString());

    client.secrets().inNamespace(NS).resource(new SecretBuilder().withNewMetadata().withName("keyed-api").endMetadata()
        .addToStringData("api-key", "sk-test").build()).create();
    Models.await(client, NS, "keyed", Duration.ofSeconds(60),
        m -> "WorkersStarting".equals(Models.reason(m, "WorkersReady")));
  }

  @Test
  void aCertificateWithUnderAThirdOfItsLifetimeLeftIsRenewedByTheSameCa() throws Exception {
    s.apply(Models.deepseek(NS, "renewed", 32, 9, "placement: {timeLimit: 2s}\n"));
    Secret secret = tls("renewed");
    String caPem = value(secret, "ca.crt");
    // Issued 70 days ago for 90 days: 20 days (22%) left.
    ModelCertificates.Material old = ModelCertificates.worker(caPem, value(secret, "ca.key"), "renewed", "renewed-workers",
        NS, Instant.now().minus(Duration.ofDays(70)), Duration.ofDays(90));
    Map<String, String> data = new HashMap<>(secret.getData());
    data.put("tls.crt", Base64.getEncoder().encodeToString(old.certificate().getBytes(StandardCharsets.US_ASCII)));
    data.put("tls.key", Base64.getEncoder().encodeToString(old.key().getBytes(StandardCharsets.US_ASCII)));
    client.secrets().inNamespace(NS).withName("renewed-tls").edit(x -> {
      x.setData(data);
      return x;
    });
    Secret renewed = Awaitility.await().atMost(Duration.ofSeconds(30)).until(
        () -> client.secrets().inNamespace(NS).withName("renewed-tls").get(),
        x -> !value(x, "tls.crt").equals(old.certificate()));
    X509Certificate leaf = ModelCertificates.certificate(value(renewed, "tls.crt"));
    assertEquals(caPem, value(renewed, "ca.crt"), "the CA is kept: workers with the old certificate still trust the new");
    leaf.verify(ModelCertificates.certificate(caPem).getPublicKey());
    assertTrue(leaf.getNotAfter().toInstant().isAfter(Instant.now().plus(Duration.ofDays(80))), leaf.getNotAfter().toString());
    assertNotEquals(old.key(), value(renewed, "tls.key"));
  }

  @Test
  void theNetworkPolicyAdmitsTheTransportFromTheModelAndTheControlPortFromTheOperator() {
    s.apply(Models.deepseek(NS, "fenced", 32, 9, "placement: {timeLimit: 2s}\n"));
    Map<String, String> workers = Map.of("moe.dev/model", "fenced", "app.kubernetes.io/name", "moe-worker");
    NetworkPolicy made = Awaitility.await().atMost(Duration.ofSeconds(30)).until(
        () -> client.network().v1().networkPolicies().inNamespace(NS).withName("fenced-workers").get(), x -> x != null);
    assertEquals(workers, made.getSpec().getPodSelector().getMatchLabels());
    assertEquals(List.of("Ingress"), made.getSpec().getPolicyTypes());
    // This test's operator runs outside a cluster (no MOE_OPERATOR_* environment): no pod reaches the control port.
    assertEquals(List.of(List.of(7070), List.of(8000, 8080)), ports(made.getSpec().getIngress()));
    assertEquals(workers, made.getSpec().getIngress().getFirst().getFrom().getFirst().getPodSelector().getMatchLabels());
    assertEquals(null, made.getSpec().getIngress().getFirst().getFrom().getFirst().getNamespaceSelector(),
        "the model's own namespace only");
    assertTrue(made.getSpec().getIngress().get(1).getFrom().isEmpty(), "API and probes: from anywhere");

    // As the chart runs it: the control port from the operator's pods, in the operator's namespace.
    NetworkPolicy inCluster = WorkerNetworkPolicyDependent.policy(s.get("fenced"),
        OperatorPods.parse("moe-system", "app.kubernetes.io/name=moe-operator,app.kubernetes.io/instance=moe"));
    inCluster.getMetadata().setName("fenced-in-cluster");
    NetworkPolicy stored = client.network().v1().networkPolicies().inNamespace(NS).resource(inCluster).create();
    assertEquals(List.of(List.of(7070), List.of(8443), List.of(8000, 8080)), ports(stored.getSpec().getIngress()));
    var control = stored.getSpec().getIngress().get(1).getFrom();
    assertEquals(1, control.size(), "namespace and pod selector in one peer: both must match");
    assertEquals(Map.of("kubernetes.io/metadata.name", "moe-system"), control.getFirst().getNamespaceSelector().getMatchLabels());
    assertEquals(Map.of("app.kubernetes.io/name", "moe-operator", "app.kubernetes.io/instance", "moe"),
        control.getFirst().getPodSelector().getMatchLabels());
    assertFalse(stored.getSpec().getIngress().stream().limit(2).anyMatch(r -> r.getFrom().isEmpty()));
  }

  private static List<List<Integer>> ports(List<NetworkPolicyIngressRule> rules) {
    return rules.stream().map(r -> r.getPorts().stream().map(p -> p.getPort().getIntVal()).toList()).toList();
  }
}

package dev.moe.localcluster.weights;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.moe.crds.v1alpha1.MoEModel;
import dev.moe.localcluster.system.LocalSystem;
import dev.moe.localcluster.system.ModelClient;
import dev.moe.localcluster.testing.ClusterScripts;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Weights from an s3:// URI end to end on the local cluster: moto's S3 server on loopback (its
 * authentication on) holds worker-runtime's tiny Qwen3-MoE fixture; the operator gives the workers
 * the fetch-weights init container with the model's credentials Secret; the process node runs it
 * into the emptyDir the worker reads; the model becomes Ready. A second model, whose Secret has a
 * wrong secret key, shows WeightsReady=False (WeightsUnavailable) and Ready with the URI and S3's
 * refusal, from the init container's termination message.
 */
class WeightsIT {

  private static final Path REPO = Path.of(System.getProperty("moe.repo.root", "..")).toAbsolutePath().normalize();
  private static final Path FIXTURE = REPO.resolve("worker-runtime/src/test/resources/fixtures/qwen3_moe");
  /** Ports of its own, apart from a developer's cluster and the other ITs'. */
  private static final Map<String, String> PORTS = Map.of("MOE_LOCAL_CLUSTER_PORT", "36443",
      "MOE_LOCAL_CLUSTER_ETCD_PORT", "32379", "MOE_LOCAL_CLUSTER_CONTROLLER_MANAGER_PORT", "40257",
      "MOE_LOCAL_CLUSTER_SCHEDULER_PORT", "40259", "MOE_LOCAL_CLUSTER_PROMETHEUS_PORT", "39090");
  private static final String NAMESPACE = "moe-weights";
  private static final String URI = "s3://weights/qwen3-moe";
  private static final Duration TIMEOUT = Duration.ofMinutes(3);

  @Test
  void aModelFetchesItsWeightsFromS3AndBadCredentialsShowOnItsStatus(@TempDir Path tmp) throws Exception {
    Path state = tmp.resolve("state");
    Process moto = null;
    try {
      String python = output(REPO.resolve("worker-runtime/scripts/moto-python").toString());
      int port;
      try (ServerSocket s = new ServerSocket(0)) {
        port = s.getLocalPort();
      }
      String endpoint = "http://127.0.0.1:" + port;
      moto = new ProcessBuilder(python, "-m", "moto.server", "-H", "127.0.0.1", "-p", String.valueOf(port))
          .redirectErrorStream(true).redirectOutput(tmp.resolve("moto.log").toFile()).start();
      awaitPort(port, moto, tmp.resolve("moto.log"));
      String[] key = output(python, REPO.resolve("worker-runtime/src/test/resources/weights/moto_setup.py").toString(),
          endpoint, "weights", "qwen3-moe", FIXTURE.toString()).split(" ");

      ClusterScripts.run(PORTS, state, REPO.resolve("local-cluster/up.sh").toString());
      try (LocalSystem system = LocalSystem.start(REPO, state.resolve("kubeconfig"), state, System.out)) {
        KubernetesClient client = system.client();
        client.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(NAMESPACE).endMetadata().build())
            .serverSideApply();
        secret(client, "s3-reader", key[0], key[1]);
        secret(client, "s3-wrong", key[0], "not-the-secret");
        Instant start = Instant.now();
        model(client, "qwen3-s3", "s3-reader", endpoint);
        model(client, "qwen3-denied", "s3-wrong", endpoint);

        MoEModel denied = new ModelClient(client, NAMESPACE, "qwen3-denied").await("WeightsUnavailable",
            m -> ModelClient.condition(m, "WeightsReady").map(c -> "WeightsUnavailable".equals(c.getReason()))
                .orElse(false), TIMEOUT, () -> false);
        String message = ModelClient.condition(denied, "WeightsReady").orElseThrow().getMessage();
        System.out.printf("%.1f s: qwen3-denied WeightsUnavailable: %s%n", seconds(start), message);
        // The process node takes the message from the log's tail (FallbackToLogsOnError): the CLI's error line.
        assertTrue(message.startsWith("fetch-weights failed on qwen3-denied-workers-0: "), message);
        assertTrue(message.contains("worker-runtime: error: " + URI + ": access denied to " + endpoint
            + "/weights/?list-type=2&prefix=qwen3-moe%2F (HTTP 403 SignatureDoesNotMatch"), message);
        assertEquals("WeightsUnavailable", ModelClient.condition(denied, "Ready").orElseThrow().getReason());

        MoEModel ready = new ModelClient(client, NAMESPACE, "qwen3-s3").await("Ready",
            m -> ModelClient.isTrue(m, "Ready"), TIMEOUT, () -> false);
        System.out.printf("%.1f s: qwen3-s3 Ready (%s)%n", seconds(start),
            ModelClient.condition(ready, "WeightsReady").orElseThrow().getMessage());
        assertTrue(ModelClient.isTrue(ready, "WeightsReady"));
      }
    } finally {
      if (Files.exists(state.resolve("kubeconfig"))) {
        ClusterScripts.run(PORTS, state, REPO.resolve("local-cluster/down.sh").toString());
      }
      if (moto != null) {
        moto.destroy();
      }
    }
  }

  private static void secret(KubernetesClient client, String name, String keyId, String secret) {
    client.secrets().inNamespace(NAMESPACE).resource(new SecretBuilder().withNewMetadata().withName(name).endMetadata()
        .withStringData(Map.of("AWS_ACCESS_KEY_ID", keyId, "AWS_SECRET_ACCESS_KEY", secret)).build()).serverSideApply();
  }

  /** worker-runtime's Qwen3-MoE fixture (one MoE layer of 8 experts) on one worker, its weights from {@link #URI}. */
  private static void model(KubernetesClient client, String name, String secret, String endpoint) {
    String yaml = """
        apiVersion: moe.dev/v1alpha1
        kind: MoEModel
        metadata: {name: %s, namespace: %s}
        spec:
          model: {moeLayers: 1, expertsPerLayer: 8, topK: 3, hiddenSize: 64, expertIntermediateSize: 40, dtype: fp32}
          weights: {uri: "%s", credentialsSecret: %s, s3Endpoint: "%s"}
          parallelism: {workers: 1, gpusPerWorker: 1, gpusPerNode: 1, slotsPerGpu: 8}
          image: ghcr.io/moe-operator/worker:0.1.0
          resources:
            limits: {nvidia.com/gpu: "1"}
            requests: {cpu: 100m, memory: 256Mi}
          nodeSelector: {nvidia.com/gpu.present: "true"}
          placement: {timeLimit: 2s}
          rebalancing: {mode: "Off"}
        """.formatted(name, NAMESPACE, URI, secret, endpoint);
    client.resources(MoEModel.class).load(new ByteArrayInputStream(yaml.getBytes(StandardCharsets.UTF_8)))
        .serverSideApply();
  }

  private static double seconds(Instant since) {
    return Duration.between(since, Instant.now()).toMillis() / 1000.0;
  }

  private static String output(String... command) throws IOException, InterruptedException {
    Process p = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
    assertEquals(0, p.waitFor(), String.join(" ", command) + " failed (output above)");
    return out;
  }

  private static void awaitPort(int port, Process server, Path log) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (true) {
      try (Socket s = new Socket("127.0.0.1", port)) {
        return;
      } catch (IOException notYet) {
        if (System.nanoTime() > deadline || !server.isAlive()) {
          fail("moto did not start: " + Files.readString(log));
        }
        Thread.sleep(100);
      }
    }
  }
}

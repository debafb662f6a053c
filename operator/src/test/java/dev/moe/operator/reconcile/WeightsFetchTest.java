package dev.moe.operator.reconcile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moe.crds.v1alpha1.MoEModel;
import dev.moe.operator.testing.Models;
import dev.moe.operator.testing.OperatorTestBase;
import dev.moe.operator.testing.Scenario;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.ContainerStatusBuilder;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.PodStatusBuilder;
import io.fabric8.kubernetes.api.model.VolumeMount;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Weights from a URI: the workers' pods fetch them in an init container running the worker
 * image's fetch-weights with the model's credentials Secret; a fetch that fails (the pod status a
 * kubelet writes: terminated non-zero with the fetcher's termination message, then
 * CrashLoopBackOff) shows on WeightsReady and Ready, naming the URI, and as a Warning Event.
 */
class WeightsFetchTest extends OperatorTestBase {

  private static final String URI = "s3://models/deepseek-v3";

  private static String model(Scenario s) {
    return Models.deepseek(s.ns, "dsv3", 8, 40, """
        placement: {timeLimit: 2s}
        rebalancing: {mode: "Off"}
        """).replace("weights: {pvc: {claimName: deepseek-v3, path: /models/deepseek-v3}}",
        "weights: {uri: \"" + URI + "\", credentialsSecret: s3-reader, s3Endpoint: \"http://minio.storage.svc:9000\"}");
  }

  @Test
  void theWorkersFetchTheUriInAnInitContainerIntoTheVolumeTheyMountReadOnly() {
    Scenario s = new Scenario(client, "weights-pod");
    s.apply(model(s));
    s.await("dsv3", Duration.ofSeconds(30), m -> Models.condition(m, "PlacementReady", "True"));

    PodSpec pod = client.apps().statefulSets().inNamespace(s.ns).withName("dsv3-workers").get().getSpec().getTemplate()
        .getSpec();
    assertEquals(1, pod.getInitContainers().size());
    Container fetch = pod.getInitContainers().getFirst();
    assertEquals("fetch-weights", fetch.getName());
    assertEquals("ghcr.io/moe-operator/worker:0.1.0", fetch.getImage());
    assertEquals(List.of("fetch-weights", "--uri=" + URI, "--dest=/weights",
        "--s3-endpoint=http://minio.storage.svc:9000"), fetch.getArgs());
    assertEquals("s3-reader", fetch.getEnvFrom().getFirst().getSecretRef().getName());
    assertEquals("FallbackToLogsOnError", fetch.getTerminationMessagePolicy());
    VolumeMount written = fetch.getVolumeMounts().getFirst();
    assertEquals("weights", written.getName());
    assertTrue(written.getReadOnly() == null || !written.getReadOnly(), "the fetch writes the volume");
    VolumeMount read = pod.getContainers().getFirst().getVolumeMounts().stream()
        .filter(v -> v.getName().equals("weights")).findFirst().orElseThrow();
    assertEquals("/weights", read.getMountPath());
    assertTrue(read.getReadOnly(), "the worker mounts the weights read-only");
    assertTrue(pod.getContainers().getFirst().getArgs().contains("--checkpoint=/weights"));
    assertTrue(pod.getVolumes().stream().anyMatch(v -> v.getName().equals("weights") && v.getEmptyDir() != null));
  }

  @Test
  void aFailedFetchShowsOnWeightsReadyAndReadyWithTheUriAndAnEvent() {
    Scenario s = new Scenario(client, "weights-fail");
    s.apply(model(s));
    String denied = URI + ": access denied to http://minio.storage.svc:9000/models/?list-type=2&prefix=deepseek-v3%2F"
        + " (HTTP 403 InvalidAccessKeyId: The AWS Access Key Id you provided does not exist in our records.)";
    fetching(s, 0, new ContainerStatusBuilder().withName("fetch-weights").withNewState().withNewRunning().endRunning()
        .endState().build());
    fetching(s, 1, new ContainerStatusBuilder().withName("fetch-weights").withNewState().withNewTerminated()
        .withExitCode(1).withReason("Error").withMessage(denied + "\n").endTerminated().endState().build());

    MoEModel failed = s.await("dsv3", Duration.ofSeconds(30), m -> Models.condition(m, "WeightsReady", "False")
        && "WeightsUnavailable".equals(Models.reason(m, "WeightsReady")));
    assertEquals("fetch-weights failed on dsv3-workers-1: " + denied, Models.message(failed, "WeightsReady"));
    assertEquals("WeightsUnavailable", Models.reason(failed, "Ready"));
    assertEquals(Models.message(failed, "WeightsReady"), Models.message(failed, "Ready"));
    assertTrue(s.events("dsv3").stream().anyMatch(e -> "Warning".equals(e.getType())
        && "WeightsUnavailable".equals(e.getReason()) && e.getMessage().contains(denied)), "a Warning Event");

    // The kubelet retries it: waiting in CrashLoopBackOff, the last try's message is what counts.
    fetching(s, 1, new ContainerStatusBuilder().withName("fetch-weights").withRestartCount(3).withNewState()
        .withNewWaiting().withReason("CrashLoopBackOff").endWaiting().endState().withNewLastState().withNewTerminated()
        .withExitCode(1).withMessage("").withReason("Error").endTerminated().endLastState().build());
    s.await("dsv3", Duration.ofSeconds(30), m -> Models.message(m, "Ready")
        .equals("fetch-weights failed on dsv3-workers-1: " + URI + ": exit code 1 (Error)"));

    // Fixed (e.g. the Secret): the fetch ends well and the workers start.
    s.readyWorkers("dsv3", 8);
    MoEModel fetched = s.await("dsv3", Duration.ofSeconds(30), m -> Models.condition(m, "WeightsReady", "True"));
    assertEquals("every worker has " + URI, Models.message(fetched, "WeightsReady"));
    assertNotEquals("WeightsUnavailable", Models.reason(fetched, "Ready"));
  }

  /** Worker pod {@code ordinal}, not ready, with its init container in {@code fetch}'s state. */
  private void fetching(Scenario s, int ordinal, ContainerStatus fetch) {
    Models.readyWorker(client, s.ns, "dsv3", ordinal);
    var pod = client.pods().inNamespace(s.ns).withName("dsv3-workers-" + ordinal).get();
    pod.setStatus(new PodStatusBuilder().withPhase("Pending").withInitContainerStatuses(fetch).build());
    client.pods().inNamespace(s.ns).resource(pod).updateStatus();
  }
}

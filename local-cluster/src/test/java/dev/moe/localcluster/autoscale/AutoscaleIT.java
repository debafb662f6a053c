package dev.moe.localcluster.autoscale;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moe.crds.v1alpha1.Conditions;
import dev.moe.crds.v1alpha1.ExpertPlacement;
import dev.moe.crds.v1alpha1.MoEModel;
import dev.moe.localcluster.system.LocalSystem;
import dev.moe.localcluster.system.ModelClient;
import dev.moe.localcluster.testing.ClusterScripts;
import dev.moe.localcluster.system.WorkerControl;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.PersistentVolumeBuilder;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaimBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.autoscaling.v2.HPAScalingPolicyBuilder;
import io.fabric8.kubernetes.api.model.autoscaling.v2.HPAScalingRulesBuilder;
import io.fabric8.kubernetes.api.model.autoscaling.v2.HorizontalPodAutoscaler;
import io.fabric8.kubernetes.api.model.autoscaling.v2.HorizontalPodAutoscalerBehaviorBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The chart's HPA example acting on a MoEModel through prometheus-adapter, on the local cluster
 * (up.sh with Prometheus and the adapter, the process node, the operator installed by the chart):
 * a real model on 2 workers, requests through their OpenAI APIs that wait for KV-cache room, then
 * the HPA reads the waiting requests from custom.metrics.k8s.io, scales the MoEModel to 3 workers
 * through its scale subresource, the operator places the experts anew on 3 GPUs, and the group of
 * 3 serves that placement (the StatefulSet restarts the old workers one at a time with the new
 * peers, the new worker first). Then, through the model's Service, probe requests give the same
 * tokens and logprobs alone and beside a flood of identical requests (batch invariance). Then
 * worker 0, which runs the group's step clock, is killed outright with streams in flight on every
 * worker: only its own streams fail, new requests are refused retryably until the survivors serve a
 * plan of their own (worker 1 keeping the clock) before the replacement is ready, and it rejoins on
 * the served revision. Each step's time is printed.
 *
 * <p>The model is worker-runtime's tiny Qwen3-MoE fixture with a context of 32,768 tokens: a
 * request of 32,000 tokens takes almost all of a worker's KV cache (the default 32,768 tokens), so
 * of the requests sent to a worker one runs and the others wait, at little compute.
 */
class AutoscaleIT {

  private static final Path REPO = Path.of(System.getProperty("moe.repo.root", "..")).toAbsolutePath().normalize();
  private static final Path FIXTURE = REPO.resolve("worker-runtime/src/test/resources/fixtures/qwen3_moe");
  /** Ports of their own, apart from a developer's cluster and RunCommandIT's. */
  private static final Map<String, String> PORTS = Map.of("MOE_LOCAL_CLUSTER_PORT", "26443",
      "MOE_LOCAL_CLUSTER_ETCD_PORT", "22379", "MOE_LOCAL_CLUSTER_CONTROLLER_MANAGER_PORT", "30257",
      "MOE_LOCAL_CLUSTER_SCHEDULER_PORT", "30259", "MOE_LOCAL_CLUSTER_PROMETHEUS_PORT", "29090",
      "MOE_LOCAL_CLUSTER_ADAPTER_PORT", "30280");
  private static final String NAMESPACE = "moe-autoscale";
  private static final String MODEL = "qwen3-moe";
  private static final String METRIC = "moe_worker_requests_waiting";
  private static final int CONTEXT = 32768;
  private static final int MAX_TOKENS = 32000;
  /** Requests sent to each worker: one runs, the others wait, above the example's target of 4. */
  private static final int REQUESTS_PER_WORKER = 8;
  private static final Duration TIMEOUT = Duration.ofMinutes(3);
  /** Streams held on each worker when one is killed, and their length. */
  private static final int STREAMS_PER_WORKER = 2;
  private static final int STREAM_TOKENS = 600;
  /** Batch invariance: probe prompts (token ids of the fixture's vocabulary of 512), and the flood beside them. */
  private static final List<String> PROBES = List.of("[5, 6, 7]", "[9, 10, 11, 12, 13]", "[100, 200]", "[42]");
  private static final int FLOOD = 24;
  private static final int FLOOD_TOKENS = 200;

  @Test
  void theHpaScalesAModelOnItsWaitingRequestsThroughPrometheusAdapterAndAKilledWorkerRejoins(@TempDir Path tmp) throws Exception {
    Path state = tmp.resolve("state");
    try {
      up(state, tmp);
      try (LocalSystem system = LocalSystem.start(REPO, state.resolve("kubeconfig"), state, System.out)) {
        KubernetesClient client = system.client();
        apply(client, checkpoint(tmp.resolve("qwen3-moe")));
        ModelClient model = new ModelClient(client, NAMESPACE, MODEL);
        MoEModel serving = model.await("2 workers ready, serving a placement", m -> ModelClient.isTrue(m,
            Conditions.WORKERS_READY) && m.getStatus().getCurrentPlacement() != null
            && m.getStatus().getCurrentPlacement().getRolledOutAt() != null && readyWorkers(client) == 2, TIMEOUT,
            () -> false);
        Instant start = scaleUp(client, model);
        servedByThree(client, model, serving.getStatus().getCurrentPlacement().getRevision(), start);
        String api = serviceEndpoint(system, model);
        aFloodLeavesOtherRequestsAlone(api);
        killedWorkerRejoins(client, model, state, api);
      }
    } finally {
      down(state);
    }
  }

  /**
   * Load and the HPA at once, until the HPA has scaled the model to 3: the adapter lists and serves
   * the metric, the HPA reads it (ScalingActive) and scales. Returns when the load started.
   */
  private static Instant scaleUp(KubernetesClient client, ModelClient model) {
    try (ApiLoad load = new ApiLoad()) {
      client.autoscaling().v2().horizontalPodAutoscalers().resource(autoscaler(client)).serverSideApply();
      for (Pod worker : workers(client)) {
        load.send("http://" + worker.getStatus().getPodIP() + ":8000", MODEL, REQUESTS_PER_WORKER, MAX_TOKENS);
      }
      Instant start = Instant.now();
      Runnable loadHolds = () -> assertNull(load.ended(), "a request of the load ended before the scale-up");
      await("the custom metrics API to list " + METRIC, () -> client.raw("/apis/custom.metrics.k8s.io/v1beta1")
          .contains("pods/" + METRIC), loadHolds);
      mark(start, "the custom metrics API lists " + METRIC);
      await("the adapter to serve more than 4 waiting requests per worker", () -> waitingPerWorker(client) > 4,
          loadHolds);
      mark(start, "it serves > 4 waiting per worker");
      await("ScalingActive=True", () -> condition(client, "ScalingActive", "True", "ValidMetricFound"), loadHolds);
      mark(start, "HPA ScalingActive=True (ValidMetricFound)");
      await("the HPA to scale the MoEModel to 3", () -> model.get().getSpec().getParallelism().getWorkers() == 3,
          loadHolds);
      Quantity read = client.autoscaling().v2().horizontalPodAutoscalers().inNamespace(NAMESPACE).withName(MODEL)
          .get().getStatus().getCurrentMetrics().getFirst().getPods().getCurrent().getAverageValue();
      mark(start, "HPA scaled the MoEModel 2 -> 3 (it read " + read + " waiting per worker)");
      return start;
    }
  }

  /**
   * The operator's answer to the scale: an ExpertPlacement for 3 GPUs other than {@code first},
   * PlacementReady on it, and the group of 3 serving it.
   */
  private static void servedByThree(KubernetesClient client, ModelClient model, String first, Instant start) {
    ExpertPlacement[] replanned = new ExpertPlacement[1];
    await("an ExpertPlacement for 3 GPUs", () -> (replanned[0] = placementFor(client, 3)) != null, () -> { });
    mark(start, "operator made an ExpertPlacement for 3 GPUs");
    String revision = replanned[0].getMetadata().getName();
    assertNotEquals(first, revision, "a new revision");
    MoEModel placed = model.await("PlacementReady on " + revision, m -> ModelClient.isTrue(m,
        Conditions.PLACEMENT_READY) && ModelClient.condition(m, Conditions.PLACEMENT_READY).orElseThrow().getMessage()
        .startsWith(revision + " placed"), TIMEOUT, () -> false);
    mark(start, "PlacementReady on it");
    assertEquals(3, placed.getStatus().getWorkers().getDesired());
    model.await("3 workers serving " + revision, m -> revision.equals(m.getStatus().getCurrentPlacement().getRevision())
        && ModelClient.isTrue(m, Conditions.WORKERS_READY) && m.getStatus().getWorkers().getReady() == 3, TIMEOUT,
        () -> false);
    mark(start, "3 workers ready, serving it");
    List<Pod> three = workers(client);
    assertEquals(3, three.size());
    // A pod's readiness lags its worker by a probe period or more: each may still be reconnecting.
    for (Pod worker : three) {
      String[] last = {"no answer"};
      try {
        await(worker.getMetadata().getName() + " to answer a completion", () -> {
          HttpResponse<String> r = complete("http://" + worker.getStatus().getPodIP() + ":8000");
          last[0] = r.statusCode() + " " + r.body();
          return r.statusCode() == 200;
        }, () -> { });
      } catch (AssertionError e) {
        throw new AssertionError(e.getMessage() + "; its last answer: " + last[0], e);
      }
    }
    mark(start, "each of the 3 answers a completion");
  }

  /**
   * Batch invariance through the deployed API: probe requests (greedy, with logprobs) sent through
   * the model's Service alone, then while many identical requests flood the same experts, get
   * byte-identical text and logprobs, and every flooding request completes, all alike.
   */
  private static void aFloodLeavesOtherRequestsAlone(String api) {
    Instant start = Instant.now();
    List<String> alone = PROBES.stream().map(p -> probe(api, p)).toList();
    try (HttpClient http = HttpClient.newHttpClient()) {
      String flood = "{\"model\": \"" + MODEL + "\", \"prompt\": [1, 2, 3, 4], \"max_tokens\": " + FLOOD_TOKENS
          + ", \"ignore_eos\": true, \"temperature\": 0}";
      List<CompletableFuture<HttpResponse<String>>> flooding = new ArrayList<>();
      for (int i = 0; i < FLOOD; i++) {
        flooding.add(http.sendAsync(HttpRequest.newBuilder(URI.create(api + "/v1/completions"))
            .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(flood)).build(),
            HttpResponse.BodyHandlers.ofString()));
      }
      List<CompletableFuture<String>> during = PROBES.stream()
          .map(p -> CompletableFuture.supplyAsync(() -> probe(api, p))).toList();
      for (int i = 0; i < PROBES.size(); i++) {
        assertEquals(alone.get(i), during.get(i).join(), "probe " + PROBES.get(i) + " alone and during the flood");
      }
      long stillFlooding = flooding.stream().filter(f -> !f.isDone()).count();
      assertTrue(stillFlooding > 0, "the flood ended before the probes: they did not share its batches");
      List<String> texts = flooding.stream().map(f -> {
        HttpResponse<String> r = f.join();
        assertEquals(200, r.statusCode(), "a flooding request: " + r.body());
        JsonNode choice = json(r.body()).path("choices").path(0);
        assertEquals("length", choice.path("finish_reason").asText(), r.body());
        return choice.path("text").asText();
      }).distinct().toList();
      assertEquals(1, texts.size(), "identical greedy requests, different completions: " + texts);
      mark(start, "the flood", PROBES.size() + " probes byte-identical alone and during a flood of " + FLOOD
          + " identical requests (" + stillFlooding + " still running when the probes ended); all " + FLOOD
          + " completed alike");
    }
  }

  /** A probe's completion text and logprobs, as the Service's answer carries them. */
  private static String probe(String api, String prompt) {
    HttpResponse<String> r = post(api, "{\"model\": \"" + MODEL + "\", \"prompt\": " + prompt
        + ", \"max_tokens\": 16, \"temperature\": 0, \"logprobs\": 3}", Duration.ofSeconds(60));
    assertEquals(200, r.statusCode(), "probe " + prompt + ": " + r.body());
    JsonNode choice = json(r.body()).path("choices").path(0);
    return choice.path("text").asText() + " " + choice.path("logprobs");
  }

  /**
   * Worker 0 (the step clock's rank) killed outright (SIGKILL: no graceful stop) with streams in
   * flight on every worker: only its own streams fail (their connections close with no [DONE]); the
   * survivors' streams resume once the survivors serve a plan of their own, or end with a retryable
   * error event; no stream hangs; new requests through the Service are refused with 503 and
   * Retry-After until the survivors' plan serves, then succeed, before the replacement pod is ready:
   * the clock moved to worker 1. Then it is replaced by its StatefulSet and rejoins the
   * group on the revision the group serves: every worker reports it active, the model is Ready
   * again, the new worker holds tokens' experts again and answers a completion. While it was gone
   * the operator served the survivors a plan of their own (4 slots per GPU leave some expert without
   * a copy), and once it is back a plan on all 3: two revisions, none for the rejoin itself.
   */
  private static void killedWorkerRejoins(KubernetesClient client, ModelClient model, Path state, String api) {
    int revisions = revisions(client);
    // The operator's Secrets for the model's control API: the token, and the model's certificate.
    WorkerControl control = WorkerControl.read(client, NAMESPACE, MODEL).orElseThrow();
    Pod victim = workers(client).stream().filter(p -> p.getMetadata().getName().endsWith("-0")).findFirst().orElseThrow();
    String podDir = "pods/" + NAMESPACE + "_" + victim.getMetadata().getName() + "/";
    ProcessHandle process = ProcessHandle.allProcesses().filter(h -> h.info().commandLine()
        .map(c -> c.contains(state.toString()) && c.contains(podDir)).orElse(false)).findFirst().orElseThrow();
    Instant killed;
    Instant servedAgain;
    try (HeldStreams held = new HeldStreams()) {
      List<HeldStreams.Stream> streams = new ArrayList<>();
      for (Pod worker : workers(client)) {
        for (int i = 0; i < STREAMS_PER_WORKER; i++) {
          streams.add(held.send(worker.getMetadata().getName(), "http://" + worker.getStatus().getPodIP() + ":8000",
              MODEL, STREAM_TOKENS));
        }
      }
      await("tokens on every stream", () -> streams.stream().allMatch(s -> s.chunks.get() >= 3), () -> { });
      killed = Instant.now();
      process.destroyForcibly();
      servedAgain = servedAgainThroughTheService(api, killed);
      onlyTheKilledWorkersStreamsFailed(streams, victim.getMetadata().getName(), killed);
    }
    Pod[] rejoined = new Pod[1];
    await("a ready pod in place of " + victim.getMetadata().getName(), () -> (rejoined[0] = workers(client).stream()
        .filter(p -> p.getMetadata().getName().equals(victim.getMetadata().getName())
            && !p.getMetadata().getUid().equals(victim.getMetadata().getUid()) && ready(p)).findFirst().orElse(null))
        != null, () -> { });
    mark(killed, "the kill", "worker 0 killed (SIGKILL); its new pod is ready");
    Instant replaced = Instant.parse(rejoined[0].getStatus().getConditions().stream()
        .filter(c -> c.getType().equals("Ready")).findFirst().orElseThrow().getLastTransitionTime());
    // The condition's time has whole seconds: served a second before it means served without worker 0.
    assertTrue(servedAgain.isBefore(replaced.minusSeconds(1)), "the survivors served only once worker 0 was back"
        + " (served " + servedAgain + ", replacement ready " + replaced + "): the step clock did not move on");
    String[] served = new String[1];
    await("every worker to report the revision the model serves active, the model Ready", () -> {
      MoEModel m = model.get();
      served[0] = m.getStatus().getCurrentPlacement().getRevision();
      long version = Long.parseLong(served[0].substring(served[0].lastIndexOf("-r") + 2));
      return ModelClient.isTrue(m, Conditions.READY) && m.getStatus().getWorkers().getReady() == 3
          && servesTokens(client, served[0], 0)
          && workers(client).stream().allMatch(w -> activeVersion(control, w) == version);
    }, () -> { });
    mark(killed, "the kill", "the new worker 0 serves " + served[0] + " with the others; the model is Ready");
    assertTrue(revisions(client) <= revisions + 2, "more than the survivors' plan and the return's were made: "
        + revisions(client));
    int after = revisions(client);
    await("the new worker 0 to answer a completion",
        () -> complete("http://" + rejoined[0].getStatus().getPodIP() + ":8000").statusCode() == 200, () -> { });
    mark(killed, "the kill", "the new worker 0 answers a completion");
    assertEquals(after, revisions(client), "a rejoined worker takes the served revision, not a new one");
    assertEquals(served[0], model.get().getStatus().getCurrentPlacement().getRevision());
  }

  /**
   * New requests through the model's Service after the kill, until one is served: each is answered
   * at once (none hangs), with 503 and Retry-After while the survivors cannot serve.
   */
  private static Instant servedAgainThroughTheService(String api, Instant killed) {
    Map<String, Integer> answers = new TreeMap<>();
    long deadline = System.nanoTime() + TIMEOUT.toNanos();
    while (true) {
      assertTrue(System.nanoTime() < deadline, "no request served through the Service after the kill: " + answers);
      HttpResponse<String> r;
      long sent = System.nanoTime();
      try {
        r = complete(api);
      } catch (UncheckedIOException e) {
        // The proxy picked the dead pod's address; the connection closes at once.
        answers.merge(String.format(Locale.ROOT, "connection failed (%s after %.1f s)",
            e.getCause().getClass().getSimpleName(), (System.nanoTime() - sent) / 1e9), 1, Integer::sum);
        ModelClient.sleep(Duration.ofMillis(100));
        continue;
      }
      if (r.statusCode() == 200) {
        break;
      }
      assertEquals(503, r.statusCode(), r.body());
      assertEquals("service_unavailable", json(r.body()).path("error").path("code").asText(), r.body());
      assertTrue(r.headers().firstValue("retry-after").isPresent(), "a 503 without Retry-After");
      answers.merge("503 + Retry-After", 1, Integer::sum);
      ModelClient.sleep(Duration.ofMillis(100));
    }
    mark(killed, "the kill", "a new request is served through the Service (before it: " + answers + ")");
    return Instant.now();
  }

  /**
   * The killed worker's streams were cut (connection closed, no [DONE]); every other stream
   * completed or ended with a retryable error event, none hanging.
   */
  private static void onlyTheKilledWorkersStreamsFailed(List<HeldStreams.Stream> streams, String victim,
      Instant killed) {
    await("every stream to end", () -> streams.stream().allMatch(s -> s.end.isDone()), () -> { });
    mark(killed, "the kill", "every stream ended: " + streams);
    for (HeldStreams.Stream s : streams) {
      HeldStreams.End end = s.end.join();
      if (s.worker.equals(victim)) {
        assertEquals(HeldStreams.End.CUT, end, "a stream of the killed worker: " + s);
      } else {
        assertTrue(end == HeldStreams.End.COMPLETED || end == HeldStreams.End.ERROR_EVENT
            && s.detail.equals("service_unavailable_error/service_unavailable"), "a survivor's stream: " + s);
      }
    }
  }

  /** The model's {@code status.endpoint}, on the loopback address the process node serves its Service on. */
  private static String serviceEndpoint(LocalSystem system, ModelClient model) {
    URI endpoint = URI.create(model.get().getStatus().getEndpoint());
    String ip = system.node().resolveService(endpoint.getHost()).orElseThrow(() -> new AssertionError(
        "the process node does not proxy " + endpoint.getHost()));
    return "http://" + ip + ":" + endpoint.getPort();
  }

  private static HttpResponse<String> post(String api, String body, Duration timeout) {
    try (HttpClient http = HttpClient.newHttpClient()) {
      return http.send(HttpRequest.newBuilder(URI.create(api + "/v1/completions")).timeout(timeout)
          .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
          HttpResponse.BodyHandlers.ofString());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  private static JsonNode json(String body) {
    try {
      return JsonMapper.builder().build().readTree(body);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Whether some slot of {@code worker} has a share of tokens in {@code revision}. */
  private static boolean servesTokens(KubernetesClient client, String revision, int worker) {
    ExpertPlacement p = client.resources(ExpertPlacement.class).inNamespace(NAMESPACE).withName(revision).get();
    int slots = p.getSpec().getSlotsPerGpu();
    return p.getSpec().getReplicaShares().stream().anyMatch(layer -> layer.subList(worker * slots, (worker + 1) * slots)
        .stream().anyMatch(share -> share > 0));
  }

  private static int revisions(KubernetesClient client) {
    return client.resources(ExpertPlacement.class).inNamespace(NAMESPACE).list().getItems().size();
  }

  /** The version a worker reports active on {@code GET /placement} (HTTPS, the model's token). */
  private static long activeVersion(WorkerControl control, Pod worker) {
    try (HttpClient http = control.httpClient()) {
      HttpResponse<String> r = http.send(HttpRequest.newBuilder(WorkerControl.uri(worker.getStatus().getPodIP(),
          "/placement")).header("Authorization", "Bearer " + control.token()).build(), HttpResponse.BodyHandlers.ofString());
      return JsonMapper.builder().build().readTree(r.body()).path("active").asLong(-1);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /** A short completion, as the group of 3 serves it. */
  private static HttpResponse<String> complete(String url) {
    return post(url, "{\"model\": \"" + MODEL + "\", \"prompt\": [1, 2, 3, 4], \"max_tokens\": 4}",
        Duration.ofSeconds(30));
  }

  /** The chart's example, on this model: 2 to 3 workers, scaling up at once, never down. */
  private static HorizontalPodAutoscaler autoscaler(KubernetesClient client) {
    HorizontalPodAutoscaler hpa;
    try (InputStream yaml = Files.newInputStream(REPO.resolve("charts/moe-operator/examples/hpa.yaml"))) {
      hpa = client.autoscaling().v2().horizontalPodAutoscalers().load(yaml).item();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    assertEquals(METRIC, hpa.getSpec().getMetrics().getFirst().getPods().getMetric().getName());
    assertEquals(new Quantity("4"), hpa.getSpec().getMetrics().getFirst().getPods().getTarget().getAverageValue());
    hpa.getMetadata().setNamespace(NAMESPACE);
    hpa.getMetadata().setName(MODEL);
    hpa.getSpec().getScaleTargetRef().setName(MODEL);
    hpa.getSpec().setMinReplicas(2);
    hpa.getSpec().setMaxReplicas(3);
    hpa.getSpec().setBehavior(new HorizontalPodAutoscalerBehaviorBuilder()
        .withScaleUp(new HPAScalingRulesBuilder().withStabilizationWindowSeconds(0)
            .withPolicies(new HPAScalingPolicyBuilder().withType("Pods").withValue(1).withPeriodSeconds(15).build())
            .build())
        .withScaleDown(new HPAScalingRulesBuilder().withSelectPolicy("Disabled").build()).build());
    return hpa;
  }

  /** The fixture with a context of {@link #CONTEXT} tokens (a random model: positions beyond its training are as good). */
  private static Path checkpoint(Path dir) throws IOException {
    Files.createDirectories(dir);
    try (Stream<Path> files = Files.list(FIXTURE)) {
      for (Path f : files.filter(Files::isRegularFile).toList()) {
        Files.copy(f, dir.resolve(f.getFileName()));
      }
    }
    JsonMapper json = JsonMapper.builder().build();
    ObjectNode config = (ObjectNode) json.readTree(dir.resolve("config.json").toFile());
    config.put("max_position_embeddings", CONTEXT);
    json.writeValue(dir.resolve("config.json").toFile(), config);
    return dir;
  }

  private static void apply(KubernetesClient client, Path weights) {
    client.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(NAMESPACE).endMetadata().build())
        .serverSideApply();
    String claim = MODEL + "-weights";
    client.persistentVolumes().resource(new PersistentVolumeBuilder().withNewMetadata().withName(claim).endMetadata()
        .withNewSpec().withCapacity(Map.of("storage", new Quantity("1Gi"))).withAccessModes("ReadOnlyMany")
        .withStorageClassName("").withNewHostPath().withPath(weights.toString()).endHostPath()
        .withNewClaimRef().withNamespace(NAMESPACE).withName(claim).endClaimRef().endSpec().build()).serverSideApply();
    client.persistentVolumeClaims().inNamespace(NAMESPACE).resource(new PersistentVolumeClaimBuilder()
        .withNewMetadata().withName(claim).endMetadata().withNewSpec().withAccessModes("ReadOnlyMany")
        .withStorageClassName("").withVolumeName(claim).withNewResources()
        .withRequests(Map.of("storage", new Quantity("1Gi"))).endResources().endSpec().build()).serverSideApply();
    try (InputStream yaml = AutoscaleIT.class.getResourceAsStream("/autoscale/qwen3-moe.yaml")) {
      client.resources(MoEModel.class).load(yaml).serverSideApply();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static List<Pod> workers(KubernetesClient client) {
    return client.pods().inNamespace(NAMESPACE).withLabel("moe.dev/model", MODEL).list().getItems();
  }

  private static long readyWorkers(KubernetesClient client) {
    return workers(client).stream().filter(AutoscaleIT::ready).count();
  }

  private static boolean ready(Pod p) {
    return p.getStatus().getConditions() != null && p.getStatus().getConditions().stream()
        .anyMatch(c -> c.getType().equals("Ready") && c.getStatus().equals("True"));
  }

  /** The metric's mean over the model's workers, as the HPA reads it from the custom metrics API. */
  private static double waitingPerWorker(KubernetesClient client) {
    try {
      JsonNode list = JsonMapper.builder().build().readTree(client.raw("/apis/custom.metrics.k8s.io/v1beta1/namespaces/"
          + NAMESPACE + "/pods/*/" + METRIC + "?labelSelector=moe.dev%2Fmodel%3D" + MODEL));
      double sum = 0;
      for (JsonNode item : list.path("items")) {
        sum += new Quantity(item.path("value").asText()).getNumericalAmount().doubleValue();
      }
      return list.path("items").isEmpty() ? 0 : sum / list.path("items").size();
    } catch (IOException | RuntimeException e) {
      return 0;  // not served yet
    }
  }

  private static boolean condition(KubernetesClient client, String type, String status, String reason) {
    HorizontalPodAutoscaler hpa = client.autoscaling().v2().horizontalPodAutoscalers().inNamespace(NAMESPACE)
        .withName(MODEL).get();
    return hpa != null && hpa.getStatus() != null && hpa.getStatus().getConditions() != null && hpa.getStatus()
        .getConditions().stream().anyMatch(c -> c.getType().equals(type) && c.getStatus().equals(status)
            && c.getReason().equals(reason));
  }

  /** The model's newest ExpertPlacement whose slots are those of {@code gpus} GPUs; null if none. */
  private static ExpertPlacement placementFor(KubernetesClient client, int gpus) {
    return client.resources(ExpertPlacement.class).inNamespace(NAMESPACE).list().getItems().stream()
        .filter(p -> p.getSpec().getPhysicalToLogicalMap().getFirst().size() == gpus * p.getSpec().getSlotsPerGpu())
        .reduce((a, b) -> b).orElse(null);
  }

  /** Polls {@code done} (a failure counts as not yet) until it holds; {@code check} may fail the wait on the way. */
  private static void await(String what, BooleanSupplier done, Runnable check) {
    long deadline = System.nanoTime() + TIMEOUT.toNanos();
    while (System.nanoTime() < deadline) {
      check.run();
      try {
        if (done.getAsBoolean()) {
          return;
        }
      } catch (RuntimeException e) {
        // not there yet
      }
      ModelClient.sleep(Duration.ofMillis(250));
    }
    throw new AssertionError("no " + what + " within " + TIMEOUT.toSeconds() + " s");
  }

  /** Prints how long after {@code start} {@code what} happened, as it happens (a later failure keeps the figures). */
  private static void mark(Instant start, String what) {
    mark(start, "the load started", what);
  }

  private static void mark(Instant start, String since, String what) {
    System.out.printf(Locale.ROOT, "AutoscaleIT: %6.1f s after %s: %s%n",
        Duration.between(start, Instant.now()).toMillis() / 1e3, since, what);
  }

  /** up.sh with Prometheus (the workers' scrape config) and prometheus-adapter (the repository's rules). */
  private static void up(Path state, Path tmp) throws IOException, InterruptedException {
    Path prometheus = tmp.resolve("prometheus.yml");
    Files.writeString(prometheus, Files.readString(REPO.resolve("local-cluster/config/prometheus.yml"))
        .replace("@KUBECONFIG@", state.resolve("kubeconfig").toString()));
    run(state, REPO.resolve("local-cluster/up.sh").toString(), "--prometheus", prometheus.toString(),
        "--prometheus-adapter", REPO.resolve("local-cluster/config/prometheus-adapter.yaml").toString());
  }

  private static void down(Path state) throws IOException, InterruptedException {
    run(state, REPO.resolve("local-cluster/down.sh").toString());
  }

  private static void run(Path state, String... command) throws IOException, InterruptedException {
    ClusterScripts.run(PORTS, state, command);
  }
}

package dev.moe.operator.stats;

import dev.moe.crds.v1alpha1.MoEModel;
import dev.moe.operator.dependent.StatsTokenSecretDependent;
import dev.moe.operator.dependent.WorkerTlsSecretDependent;
import dev.moe.operator.workers.WorkerHttp;
import dev.moe.operator.workers.WorkerPods;
import dev.moe.stats.RoutingStats;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.net.URI;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Reads each worker pod's {@code /stats} (cumulative counts since the worker started, without the
 * transitions) with the model's bearer token and keeps them per worker, timestamped; a window is
 * what each worker counted since the start of the window ({@link CountHistory}: a restarted or new
 * worker counts from zero, the others from their own base). Pods being deleted are not read: their
 * workers are stopping. The history is per model object (its UID), so a model deleted and created
 * again under the same name starts afresh.
 */
public final class WorkerStatisticsScraper implements StatisticsSource {

  private final KubernetesClient client;
  private final WorkerHttp http;
  private final Clock clock;
  private final Map<String, CountHistory> history = new ConcurrentHashMap<>();

  public WorkerStatisticsScraper(KubernetesClient client, WorkerHttp http, Clock clock) {
    this.client = client;
    this.clock = clock;
    this.http = http;
  }

  @Override
  public Optional<RoutingStats> window(MoEModel model, Duration window) {
    String ns = model.getMetadata().getNamespace();
    String name = model.getMetadata().getName();
    int layers = model.getSpec().getModel().getMoeLayers();
    int experts = model.getSpec().getModel().getExpertsPerLayer();
    String token = StatsTokenSecretDependent.token(client, model).orElseThrow(() -> new StatisticsUnavailableException(
        "the statistics token Secret " + StatsTokenSecretDependent.name(model) + " is missing"));
    String ca = WorkerTlsSecretDependent.caCertificate(client, model).orElseThrow(() ->
        new StatisticsUnavailableException("the TLS Secret " + WorkerTlsSecretDependent.name(model) + " is missing"));
    var pods = WorkerPods.of(client, model).values();
    if (pods.isEmpty()) {
      throw new StatisticsUnavailableException("no worker pods to read statistics from");
    }
    Map<String, double[][]> workers = new HashMap<>();
    for (Pod pod : pods) {
      workers.put(pod.getMetadata().getUid(), scrape(pod, token, ca, layers, experts));
    }
    Instant now = clock.instant();
    return history.computeIfAbsent(ns + "/" + name + "/" + model.getMetadata().getUid(), k -> new CountHistory())
        .advance(new CountHistory.Snapshot(now, workers), window, layers, experts).map(RoutingStats::ofCounts);
  }

  private double[][] scrape(Pod pod, String token, String ca, int layers, int experts) {
    String ip = pod.getStatus() == null ? null : pod.getStatus().getPodIP();
    String podName = pod.getMetadata().getName();
    if (ip == null) {
      throw new StatisticsUnavailableException("worker " + podName + " has no IP yet");
    }
    // The counts only: the transitions (megabytes at DeepSeek-V3's size) are not what a window needs.
    URI uri = WorkerHttp.controlUri(ip, "/stats?transitions=false");
    WorkerHttp.Reply reply = http.control(ca, Map.of(0, ip), address -> HttpRequest.newBuilder(uri)
        .timeout(Duration.ofSeconds(5)).header("Authorization", "Bearer " + token).GET().build()).get(0);
    if (reply.status() == 0) {
      throw new StatisticsUnavailableException("worker " + podName + " /stats " + reply.describe());
    }
    if (reply.status() != 200) {
      throw new StatisticsUnavailableException("worker " + podName + " answered " + reply.status() + " on /stats");
    }
    return ModelStatistics.parse(reply.body().getBytes(StandardCharsets.UTF_8), "worker " + podName + " /stats", layers,
        experts).logicalCount();
  }
}

package dev.moe.operator.stats;

import dev.moe.crds.v1alpha1.MoEModel;
import dev.moe.operator.dependent.StatsTokenSecretDependent;
import dev.moe.operator.dependent.WorkerStatefulSetDependent;
import dev.moe.operator.workers.WorkerHttp;
import dev.moe.operator.workers.WorkerPods;
import dev.moe.stats.RoutingStats;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
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
  private final HttpClient http;
  private final Clock clock;
  private final Map<String, CountHistory> history = new ConcurrentHashMap<>();

  public WorkerStatisticsScraper(KubernetesClient client, Clock clock) {
    this.client = client;
    this.clock = clock;
    this.http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(3)).build();
  }

  @Override
  public Optional<RoutingStats> window(MoEModel model, Duration window) {
    String ns = model.getMetadata().getNamespace();
    String name = model.getMetadata().getName();
    int layers = model.getSpec().getModel().getMoeLayers();
    int experts = model.getSpec().getModel().getExpertsPerLayer();
    String token = StatsTokenSecretDependent.token(client, model).orElseThrow(() -> new StatisticsUnavailableException(
        "the statistics token Secret " + StatsTokenSecretDependent.name(model) + " is missing"));
    var pods = WorkerPods.of(client, model).values();
    if (pods.isEmpty()) {
      throw new StatisticsUnavailableException("no worker pods to read statistics from");
    }
    Map<String, double[][]> workers = new HashMap<>();
    for (Pod pod : pods) {
      workers.put(pod.getMetadata().getUid(), scrape(pod, token, layers, experts));
    }
    Instant now = clock.instant();
    return history.computeIfAbsent(ns + "/" + name + "/" + model.getMetadata().getUid(), k -> new CountHistory())
        .advance(new CountHistory.Snapshot(now, workers), window, layers, experts).map(RoutingStats::ofCounts);
  }

  private double[][] scrape(Pod pod, String token, int layers, int experts) {
    String ip = pod.getStatus() == null ? null : pod.getStatus().getPodIP();
    String podName = pod.getMetadata().getName();
    if (ip == null) {
      throw new StatisticsUnavailableException("worker " + podName + " has no IP yet");
    }
    // The counts only: the transitions (megabytes at DeepSeek-V3's size) are not what a window needs.
    URI uri = WorkerHttp.uri(ip, WorkerStatefulSetDependent.HTTP_PORT, "/stats?transitions=false");
    HttpRequest request = HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(5))
        .header("Authorization", "Bearer " + token).GET().build();
    try {
      HttpResponse<byte[]> response = http.send(request, HttpResponse.BodyHandlers.ofByteArray());
      if (response.statusCode() != 200) {
        throw new StatisticsUnavailableException("worker " + podName + " answered " + response.statusCode()
            + " on /stats");
      }
      return ModelStatistics.parse(response.body(), "worker " + podName + " /stats", layers, experts).logicalCount();
    } catch (IOException e) {
      throw new StatisticsUnavailableException("worker " + podName + " /stats unreachable: " + e.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new StatisticsUnavailableException("interrupted while reading worker " + podName);
    }
  }
}

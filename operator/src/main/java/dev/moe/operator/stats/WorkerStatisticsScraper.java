package dev.moe.operator.stats;

import dev.moe.crds.v1alpha1.MoEModel;
import dev.moe.operator.dependent.StatsTokenSecretDependent;
import dev.moe.operator.dependent.WorkerStatefulSetDependent;
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
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Reads each worker pod's {@code /stats} (cumulative counts since the worker started, without the
 * transitions) with the model's bearer token, sums them, and keeps timestamped sums: a window is the
 * newest sum minus the newest one at least nine tenths of a window older. A worker restart (a count
 * going down) starts the history over.
 */
public final class WorkerStatisticsScraper implements StatisticsSource {

  private record Snapshot(Instant at, double[][] counts) {}

  private final KubernetesClient client;
  private final HttpClient http;
  private final Clock clock;
  private final Map<String, Deque<Snapshot>> history = new ConcurrentHashMap<>();

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
    double[][] sum = new double[layers][experts];
    var pods = client.pods().inNamespace(ns).withLabels(WorkerStatefulSetDependent.selector(model)).list().getItems();
    if (pods.isEmpty()) {
      throw new StatisticsUnavailableException("no worker pods to read statistics from");
    }
    for (Pod pod : pods) {
      add(sum, scrape(pod, token, layers, experts));
    }
    return advance(ns + "/" + name, new Snapshot(clock.instant(), sum), window);
  }

  private double[][] scrape(Pod pod, String token, int layers, int experts) {
    String ip = pod.getStatus() == null ? null : pod.getStatus().getPodIP();
    String podName = pod.getMetadata().getName();
    if (ip == null) {
      throw new StatisticsUnavailableException("worker " + podName + " has no IP yet");
    }
    // The counts only: the transitions (megabytes at DeepSeek-V3's size) are not what a window needs.
    URI uri = URI.create("http://" + ip + ":" + WorkerStatefulSetDependent.HTTP_PORT + "/stats?transitions=false");
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

  private static void add(double[][] into, double[][] counts) {
    for (int l = 0; l < into.length; l++) {
      for (int e = 0; e < into[l].length; e++) {
        into[l][e] += counts[l][e];
      }
    }
  }

  /** Records {@code now} and returns the window it closes, if the history covers one. */
  Optional<RoutingStats> advance(String key, Snapshot now, Duration window) {
    Deque<Snapshot> snapshots = history.computeIfAbsent(key, k -> new ArrayDeque<>());
    synchronized (snapshots) {
      if (!snapshots.isEmpty() && decreased(snapshots.peekLast().counts(), now.counts())) {
        snapshots.clear();
      }
      snapshots.addLast(now);
      // A snapshot taken up to a tenth of the window late still opens it: reconciles rescheduled one
      // window apart land a little early or late, and an exact edge would skip every other window.
      Instant start = now.at().minus(window.multipliedBy(9).dividedBy(10));
      Snapshot base = null;
      for (Snapshot s : snapshots) {
        if (!s.at().isAfter(start)) {
          base = s;
        }
      }
      while (base != null && snapshots.peekFirst() != base) {
        snapshots.removeFirst();
      }
      if (base == null) {
        return Optional.empty();
      }
      double[][] diff = new double[now.counts().length][];
      for (int l = 0; l < diff.length; l++) {
        diff[l] = now.counts()[l].clone();
        for (int e = 0; e < diff[l].length; e++) {
          diff[l][e] -= base.counts()[l][e];
        }
      }
      return Optional.of(RoutingStats.ofCounts(diff));
    }
  }

  private static boolean decreased(double[][] before, double[][] after) {
    for (int l = 0; l < before.length; l++) {
      for (int e = 0; e < before[l].length; e++) {
        if (after[l][e] < before[l][e]) {
          return true;
        }
      }
    }
    return false;
  }
}

package dev.moe.operator.stats;

import dev.moe.crds.v1alpha1.MoEModel;
import dev.moe.operator.dependent.StatsTokenSecretDependent;
import dev.moe.operator.dependent.WorkerStatefulSetDependent;
import dev.moe.operator.dependent.WorkerTlsSecretDependent;
import dev.moe.operator.workers.WorkerHttp;
import dev.moe.operator.workers.WorkerPods;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Reads each worker pod's {@code /stats} (cumulative counts since the worker started, without the
 * transitions) with the model's bearer token, all at once, and keeps them per worker, timestamped;
 * a window is what each worker counted since the start of the window ({@link CountHistory}: a
 * restarted or new worker counts from zero, the others from their own base). A worker that does not
 * answer is left out of the window, whose coverage says so; only when none answers is there no
 * window. Pods being deleted are not read: their workers are stopping. The history is per model
 * object (its UID), so a model deleted and created again under the same name starts afresh, and is
 * dropped once the model is gone ({@link #retain}).
 */
public final class WorkerStatisticsScraper implements StatisticsSource {

  private final KubernetesClient client;
  private final WorkerHttp http;
  private final Clock clock;
  private final int port;
  private final Map<String, CountHistory> history = new ConcurrentHashMap<>();

  public WorkerStatisticsScraper(KubernetesClient client, WorkerHttp http, Clock clock) {
    this(client, http, clock, WorkerStatefulSetDependent.CONTROL_PORT);
  }

  /** On another port than the workers': tests serve several fake workers' {@code /stats} on one host. */
  WorkerStatisticsScraper(KubernetesClient client, WorkerHttp http, Clock clock, int port) {
    this.client = client;
    this.http = http;
    this.clock = clock;
    this.port = port;
  }

  @Override
  public Optional<StatisticsWindow> window(MoEModel model, Duration window) {
    int layers = model.getSpec().getModel().getMoeLayers();
    int experts = model.getSpec().getModel().getExpertsPerLayer();
    return history(model).advance(snapshot(model), window, layers, experts);
  }

  @Override
  public void sample(MoEModel model, Duration window) {
    CountHistory history = history(model);
    Optional<Duration> every = StatisticsSource.sampleInterval(window);
    if (every.isPresent() && history.due(clock.instant(), every.get())) {
      history.sample(snapshot(model), window);
    }
  }

  private CountHistory history(MoEModel model) {
    return history.computeIfAbsent(model.getMetadata().getUid(), k -> new CountHistory());
  }

  /** Every worker's counts now, or why it did not answer. */
  private CountHistory.Snapshot snapshot(MoEModel model) {
    int layers = model.getSpec().getModel().getMoeLayers();
    int experts = model.getSpec().getModel().getExpertsPerLayer();
    String token = StatsTokenSecretDependent.token(client, model).orElseThrow(() -> new StatisticsUnavailableException(
        "the statistics token Secret " + StatsTokenSecretDependent.name(model) + " is missing"));
    String ca = WorkerTlsSecretDependent.caCertificate(client, model).orElseThrow(() ->
        new StatisticsUnavailableException("the TLS Secret " + WorkerTlsSecretDependent.name(model) + " is missing"));
    Map<Integer, Pod> pods = WorkerPods.of(client, model);
    if (pods.isEmpty()) {
      throw new StatisticsUnavailableException("no worker pods to read statistics from");
    }
    Map<Integer, String> addresses = WorkerPods.addresses(client, model, pods.keySet());
    // The counts only: the transitions (megabytes at DeepSeek-V3's size) are not what a window needs.
    var replies = http.control(ca, addresses, ip -> HttpRequest.newBuilder(
            WorkerHttp.controlUri(ip, port, "/stats?transitions=false"))
        .timeout(Duration.ofSeconds(5)).header("Authorization", "Bearer " + token).GET().build());
    Map<String, double[][]> workers = new HashMap<>();
    // By ordinal, as the pods are: the messages name the workers in order.
    Map<String, String> unanswered = new LinkedHashMap<>();
    pods.forEach((ordinal, pod) -> {
      String name = pod.getMetadata().getName();
      String uid = pod.getMetadata().getUid();
      WorkerHttp.Reply reply = replies.get(ordinal);
      if (reply == null) {
        unanswered.put(uid, name + " has no IP yet");
      } else if (reply.status() != 200) {
        unanswered.put(uid, name + " /stats " + reply.describe());
      } else {
        try {
          workers.put(uid, ModelStatistics.parse(reply.body().getBytes(StandardCharsets.UTF_8), name + " /stats",
              layers, experts).logicalCount());
        } catch (StatisticsUnavailableException e) {
          unanswered.put(uid, e.getMessage());
        }
      }
    });
    if (workers.isEmpty()) {
      throw new StatisticsUnavailableException("no worker answered /stats: " + String.join("; ", unanswered.values()));
    }
    return new CountHistory.Snapshot(clock.instant(), workers, unanswered);
  }

  @Override
  public void retain(Set<String> modelUids) {
    history.keySet().retainAll(modelUids);
  }
}

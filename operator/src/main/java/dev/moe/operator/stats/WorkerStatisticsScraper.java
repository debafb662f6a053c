package dev.moe.operator.stats;

import dev.moe.crds.v1alpha1.MoEModel;
import dev.moe.operator.dependent.WorkerStatefulSetDependent;
import dev.moe.operator.workers.WorkerCredentials;
import dev.moe.operator.workers.WorkerHttp;
import dev.moe.operator.workers.WorkerPods;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.jboss.logging.Logger;

/**
 * Reads each worker pod's {@code /stats} (cumulative counts since the worker started, without the
 * transitions) with the model's bearer token, all at once, and keeps them per worker, timestamped;
 * a window is what each worker counted since the start of the window ({@link CountHistory}: a
 * restarted or new worker counts from zero, the others from their own base). A worker that does not
 * answer is left out of the window, whose coverage says so; only when none answers is there no
 * window. Pods being deleted are not read: their workers are stopping. The history is per model
 * object (its UID), so a model deleted and created again under the same name starts afresh, and is
 * dropped once the model is gone ({@link #retain}). Between windows it samples every quarter of a
 * window, on a thread of its own rather than by reconciling more often (a reconcile also reads every
 * worker's placement): the samples split the next window into intervals, in which a change of
 * routing part-way shows ({@link ChangePoint}). A model not observed for a while is no longer sampled.
 */
public final class WorkerStatisticsScraper implements StatisticsSource {

  private static final Logger LOG = Logger.getLogger(WorkerStatisticsScraper.class);

  private final KubernetesClient client;
  private final WorkerHttp http;
  private final Clock clock;
  private final int port;
  private final Map<String, CountHistory> history = new ConcurrentHashMap<>();
  /** Null: samples only when a test takes them ({@link #sample}). */
  private final ScheduledExecutorService sampler;
  /** Each sampled model's last observation and its sampling task. */
  private final Map<String, Sampling> sampling = new ConcurrentHashMap<>();

  /** @param observed the model and window of its last observation; {@code every}: a quarter of the window */
  private record Sampling(MoEModel model, Duration window, Instant observed, Duration every, ScheduledFuture<?> task) {}

  public WorkerStatisticsScraper(KubernetesClient client, WorkerHttp http, Clock clock) {
    this(client, http, clock, WorkerStatefulSetDependent.CONTROL_PORT, Executors.newSingleThreadScheduledExecutor(
        Thread.ofPlatform().name("statistics-sampler").daemon().factory()));
  }

  /** On another port than the workers': tests serve several fake workers' {@code /stats} on one host. */
  WorkerStatisticsScraper(KubernetesClient client, WorkerHttp http, Clock clock, int port,
      ScheduledExecutorService sampler) {
    this.client = client;
    this.http = http;
    this.clock = clock;
    this.port = port;
    this.sampler = sampler;
  }

  @Override
  public Optional<StatisticsWindow> window(MoEModel model, Duration window) {
    int layers = model.getSpec().getModel().getMoeLayers();
    int experts = model.getSpec().getModel().getExpertsPerLayer();
    Optional<StatisticsWindow> closed = history(model).advance(snapshot(model), window, layers, experts);
    keepSampling(model, window);
    return closed;
  }

  /**
   * How often to sample a {@code window}: a quarter of it, so that a change of routing part-way leaves
   * an interval or more wholly after it; never within 5 s, as each sample reads every worker's counts
   * (at DeepSeek-V3's size 144 workers x 58 x 256). Empty for a window too short to split.
   */
  static Optional<Duration> sampleInterval(Duration window) {
    Duration every = window.dividedBy(4);
    return every.compareTo(Duration.ofSeconds(5)) < 0 ? Optional.empty() : Optional.of(every);
  }

  /** Samples {@code model} from now on (with its spec as last observed), or stops when its window is too short. */
  private void keepSampling(MoEModel model, Duration window) {
    String uid = model.getMetadata().getUid();
    Optional<Duration> every = sampleInterval(window);
    if (sampler == null || every.isEmpty()) {
      stopSampling(uid);
      return;
    }
    sampling.compute(uid, (k, old) -> {
      ScheduledFuture<?> task = old != null && old.every().equals(every.get()) ? old.task() : null;
      if (task == null) {
        if (old != null) {
          old.task().cancel(false);
        }
        long ms = every.get().toMillis();
        task = sampler.scheduleWithFixedDelay(() -> sampleQuietly(uid), ms, ms, TimeUnit.MILLISECONDS);
      }
      return new Sampling(model, window, clock.instant(), every.get(), task);
    });
  }

  private void stopSampling(String uid) {
    Sampling s = sampling.remove(uid);
    if (s != null) {
      s.task().cancel(false);
    }
  }

  /**
   * One sample of the model {@code uid}, if due; none once it has not been observed for three windows
   * and five minutes (its rebalancing is off, or it is gone): then sampling stops until it is again.
   */
  private void sampleQuietly(String uid) {
    Sampling s = sampling.get(uid);
    if (s == null) {
      return;
    }
    Duration idle = Duration.between(s.observed(), clock.instant());
    if (idle.compareTo(s.window().multipliedBy(3)) > 0 && idle.compareTo(Duration.ofMinutes(5)) > 0) {
      stopSampling(uid);
      return;
    }
    try {
      sample(s.model(), s.window());
    } catch (RuntimeException e) {
      // The next window says why no worker answered; without this sample it is split less finely.
      LOG.debugf("%s/%s: no sample: %s", s.model().getMetadata().getNamespace(), s.model().getMetadata().getName(),
          e.getMessage());
    }
  }

  /** A sample between windows, if one is due. */
  void sample(MoEModel model, Duration window) {
    CountHistory h = history(model);
    Optional<Duration> every = sampleInterval(window);
    if (every.isPresent() && h.due(clock.instant(), every.get())) {
      h.sample(snapshot(model), window);
    }
  }

  private CountHistory history(MoEModel model) {
    return history.computeIfAbsent(model.getMetadata().getUid(), k -> new CountHistory());
  }

  /** Every worker's counts now, or why it did not answer. */
  private CountHistory.Snapshot snapshot(MoEModel model) {
    int layers = model.getSpec().getModel().getMoeLayers();
    int experts = model.getSpec().getModel().getExpertsPerLayer();
    WorkerCredentials credentials = WorkerCredentials.read(client, model).orElseThrow(() ->
        new StatisticsUnavailableException(WorkerCredentials.secrets(model) + " are not both there yet"));
    Map<Integer, Pod> pods = WorkerPods.of(client, model);
    if (pods.isEmpty()) {
      throw new StatisticsUnavailableException("no worker pods to read statistics from");
    }
    Map<Integer, String> addresses = WorkerPods.addresses(client, model, pods.keySet());
    // The counts only: the transitions (megabytes at DeepSeek-V3's size) are not what a window needs.
    var replies = http.control(credentials, addresses, ip -> HttpRequest.newBuilder(
            WorkerHttp.controlUri(ip, port, "/stats?transitions=false")).timeout(Duration.ofSeconds(5)).GET());
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
    sampling.keySet().stream().filter(uid -> !modelUids.contains(uid)).toList().forEach(this::stopSampling);
  }
}

package dev.moe.localcluster.demo;

import dev.moe.crds.v1alpha1.Conditions;
import dev.moe.crds.v1alpha1.CurrentPlacement;
import dev.moe.crds.v1alpha1.Decision;
import dev.moe.crds.v1alpha1.MoEModel;
import dev.moe.crds.v1alpha1.RebalanceDecision;
import dev.moe.localcluster.demo.DemoReport.StatusSample;
import dev.moe.localcluster.demo.RequestTraffic.RequestRecord;
import dev.moe.localcluster.system.ModelClient;
import dev.moe.localcluster.system.ShiftStatistics;
import dev.moe.runtime.bench.StreamedCompletion;
import dev.moe.runtime.model.Checkpoint;
import dev.moe.runtime.synthetic.PromptKind;
import dev.moe.runtime.synthetic.SyntheticCheckpoint;
import dev.moe.stats.RoutingStatsReader;
import io.fabric8.kubernetes.api.model.PersistentVolumeBuilder;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaimBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;
import java.util.function.Function;

/**
 * The demo on a running local cluster with the operator installed: applies the example model (a
 * whole DeepSeek-V3-layout model whose routers send two kinds of prompts as SGLang measured
 * DeepSeek-V3's decode and prefill workloads), waits until the operator has placed it and its API
 * answers, sends real OpenAI requests to its endpoint (the Service in {@code status.endpoint}):
 * decode-like prompts, then prefill-like ones (the shift), shows the operator's answer live, and
 * ends with the report.
 */
public final class Demo {

  /**
   * @param decode how long decode-like traffic runs before the shift, at least: the shift also
   *     waits (up to {@link #OBSERVATION_LIMIT_MINUTES} more) for the operator's first observation
   *     of it, the "before" of the comparison
   * @param prefillLimit the longest prefill-like traffic runs
   * @param afterRebalance how long prefill-like traffic runs once a rebalanced placement serves
   * @param clients closed-loop clients sending requests
   * @param maxTokens tokens each request asks for at most
   */
  public record Options(Path repo, Path statistics, Path cacheDir, Path outDir, Duration decode,
      Duration prefillLimit, Duration afterRebalance, int clients, int maxTokens) {}

  static final String NAMESPACE = "moe-demo";
  static final String MODEL = "deepseek-v3-mini";
  /** How much longer than {@code decode} the shift waits for the operator's first observation. */
  public static final int OBSERVATION_LIMIT_MINUTES = 4;
  private static final long SEED = 42;
  /** Words per prompt: one token each. */
  private static final int PROMPT_WORDS = 48;
  /** Where the generated model is cached; a new generator gets a new name. */
  private static final String CHECKPOINT_DIR = "deepseek-v3-mini-servable-h" + SyntheticCheckpoint.HIDDEN;

  private final KubernetesClient client;
  private final ModelClient model;
  private final Function<String, Optional<String>> services;
  private final Options options;
  private final PrintStream out;

  /** @param services the address a Service's DNS name stands for on this machine (the process node's proxy) */
  public Demo(KubernetesClient client, Function<String, Optional<String>> services, Options options, PrintStream out) {
    this.client = client;
    this.model = new ModelClient(client, NAMESPACE, MODEL);
    this.services = services;
    this.options = options;
    this.out = out;
  }

  /** Runs the demo; true when the operator rebalanced after the shift and every worker served the new placement. */
  public boolean run(BooleanSupplier stop) throws InterruptedException {
    Path weights = checkpoint();
    apply(weights);
    Instant created = Instant.now();
    MoEModel ready = awaitReady(Duration.ofMinutes(5), stop);
    out.printf(Locale.ROOT, "%s Ready %.0f s after it was applied: %s, predicted balancedness %.3f, endpoint %s%n",
        MODEL, Duration.between(created, Instant.now()).toMillis() / 1e3,
        ready.getStatus().getCurrentPlacement().getRevision(),
        ready.getStatus().getCurrentPlacement().getPredictedBalancedness(), ready.getStatus().getEndpoint());
    URI endpoint = reachable(ready.getStatus().getEndpoint());
    StreamedCompletion completion = new StreamedCompletion(StreamedCompletion.httpClient(), MODEL, null,
        options.maxTokens(), false);
    StreamedCompletion.Result first = firstCompletion(completion, endpoint, stop);
    double firstCompletion = Duration.between(created, Instant.now()).toMillis() / 1e3;
    out.printf(Locale.ROOT, "first completion %.0f s after the model was applied%n", firstCompletion);
    printCompletion("decode-like", prompt(PromptKind.DECODE, -1), first);

    List<RequestRecord> requests = Collections.synchronizedList(new ArrayList<>());
    List<StatusSample> samples = Collections.synchronizedList(new ArrayList<>());
    String before = ready.getStatus().getCurrentPlacement().getRevision();
    // One clock for the requests, the status samples and the operator's decisions: from the first request.
    long startNanos = System.nanoTime();
    Instant start = Instant.now();
    double[] shiftAt = {Double.NaN};
    AtomicBoolean prefillShown = new AtomicBoolean();
    ScheduledExecutorService sampler = Executors.newSingleThreadScheduledExecutor();
    try {
      sampler.scheduleAtFixedRate(() -> sample(samples, requests, startNanos), 0, 1, TimeUnit.SECONDS);
      long decodeLimit = options.decode().plusMinutes(OBSERVATION_LIMIT_MINUTES).toSeconds();
      new RequestTraffic(endpoint, completion, options.clients()).run(startNanos, List.of(
              new RequestTraffic.Phase("decode", i -> prompt(PromptKind.DECODE, i),
                  t -> t >= options.decode().toSeconds() && (observed(samples, before) || t >= decodeLimit)),
              new RequestTraffic.Phase("prefill", i -> prompt(PromptKind.PREFILL, i), t -> {
                if (Double.isNaN(shiftAt[0])) {
                  shiftAt[0] = (System.nanoTime() - startNanos) / 1e9 - t;
                }
                double switchAt = switchAt(samples, before, shiftAt[0]);
                // Ends once the new placement has served for afterRebalance and the operator has observed it.
                return t >= options.prefillLimit().toSeconds() || (!Double.isNaN(switchAt)
                    && shiftAt[0] + t > switchAt + options.afterRebalance().toSeconds()
                    && observedOtherThan(samples, before));
              })),
          r -> {
            requests.add(r);
            if (r.phase().equals("prefill") && r.result().ok() && prefillShown.compareAndSet(false, true)) {
              printCompletion("prefill-like", null, r.result());
            }
          }, stop);
    } finally {
      sampler.shutdownNow();
    }
    out.println();
    MoEModel last = model.get();
    RebalanceDecision taken = Double.isNaN(shiftAt[0]) ? null
        : firstTakenAfter(last, start.plusMillis((long) (shiftAt[0] * 1000)));
    double decisionAt = taken == null ? Double.NaN
        : Duration.between(start, Instant.parse(taken.getTime())).toMillis() / 1e3;
    DemoReport.Run run = new DemoReport.Run(List.copyOf(requests), List.copyOf(samples), firstCompletion, shiftAt[0],
        decisionAt, switchAt(samples, before, shiftAt[0]),
        taken == null || taken.getReplicasMoved() == null ? 0 : taken.getReplicasMoved(),
        taken == null || taken.getObservedBalancedness() == null ? Double.NaN : taken.getObservedBalancedness(),
        before, last.getStatus().getCurrentPlacement().getRevision());
    DemoReport.write(run, options.outDir(), out);
    return DemoReport.rebalanced(run);
  }

  /** The endpoint's URL with its host as this machine reaches it: the process node's proxy of the Service. */
  private URI reachable(String endpoint) {
    if (endpoint == null) {
      throw new IllegalStateException(MODEL + " is Ready without status.endpoint");
    }
    URI uri = URI.create(endpoint);
    String host = services.apply(uri.getHost()).orElseThrow(() -> new IllegalStateException(
        "the process node does not proxy " + uri.getHost() + " (the model's Service)"));
    return URI.create(uri.getScheme() + "://" + host + ":" + uri.getPort() + "/");
  }

  /** The first completion through the Service; a worker may still be joining the group, so retried for a while. */
  private StreamedCompletion.Result firstCompletion(StreamedCompletion completion, URI endpoint, BooleanSupplier stop) {
    Instant deadline = Instant.now().plus(Duration.ofMinutes(2));
    while (true) {
      StreamedCompletion.Result r = completion.send(endpoint, prompt(PromptKind.DECODE, -1));
      if (r.ok()) {
        return r;
      }
      if (Instant.now().isAfter(deadline) || stop.getAsBoolean()) {
        throw new IllegalStateException("no completion from " + endpoint + " within 2 minutes: " + r.error());
      }
      ModelClient.sleep(Duration.ofSeconds(2));
    }
  }

  private void printCompletion(String kind, String prompt, StreamedCompletion.Result r) {
    out.printf(Locale.ROOT, "%n  %s completion (%d prompt tokens, %d generated, TTFT %.0f ms, TPOT %.1f ms)%s: %s%n",
        kind, r.promptTokens(), r.outputTokens(), r.ttftMillis(), r.tpotMillis(),
        prompt == null ? "" : " of \"" + abbreviate(prompt) + "\"", "\"" + abbreviate(r.text()) + "\"");
  }

  private static String abbreviate(String s) {
    String line = s.replace("\n", " ").strip();
    return line.length() <= 60 ? line : line.substring(0, 57) + "...";
  }

  /** Request {@code i}'s prompt of a kind (-1: the first completion's). */
  private static String prompt(PromptKind kind, int i) {
    return kind.prompts(1, PROMPT_WORDS, SEED * 1_000_003L + i).getFirst();
  }

  /**
   * Generates the model once per generator version, routers fitted to the statistics; later runs
   * reuse it. Written beside the cache entry and moved into place, so an interrupted run leaves no
   * half-fitted model.
   */
  private Path checkpoint() {
    Path dir = options.cacheDir().resolve(CHECKPOINT_DIR);
    if (Files.exists(dir.resolve(Checkpoint.CONFIG))) {
      return dir;
    }
    out.println("generating the model (DeepSeek-V3 layout, hidden " + SyntheticCheckpoint.HIDDEN
        + ", routers fitted to SGLang's decode and prefill counts) into " + dir);
    try {
      Files.createDirectories(options.cacheDir());
      Path partial = Files.createTempDirectory(options.cacheDir(), dir.getFileName() + ".");
      out.println(SyntheticCheckpoint.write(partial,
          RoutingStatsReader.read(options.statistics().resolve(ShiftStatistics.DECODE)),
          RoutingStatsReader.read(options.statistics().resolve(ShiftStatistics.PREFILL)), SEED).summary());
      Files.move(partial, dir, StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write the demo's model into " + dir + ": " + e.getMessage(), e);
    }
    return dir;
  }

  private void apply(Path weights) {
    String claim = MODEL + "-weights";
    client.persistentVolumes().resource(new PersistentVolumeBuilder().withNewMetadata().withName(claim).endMetadata()
        .withNewSpec().withCapacity(Map.of("storage", new Quantity("1Gi"))).withAccessModes("ReadOnlyMany")
        .withStorageClassName("").withNewHostPath().withPath(weights.toString()).endHostPath()
        .withNewClaimRef().withNamespace(NAMESPACE).withName(claim).endClaimRef().endSpec().build())
        .serverSideApply();
    model.apply(options.statistics().resolve(ShiftStatistics.DECODE), options.repo().resolve("local-cluster/demo/" + MODEL + ".yaml"));
    client.persistentVolumeClaims().inNamespace(NAMESPACE).resource(new PersistentVolumeClaimBuilder()
        .withNewMetadata().withName(claim).endMetadata().withNewSpec().withAccessModes("ReadOnlyMany")
        .withStorageClassName("").withVolumeName(claim).withNewResources()
        .withRequests(Map.of("storage", new Quantity("1Gi"))).endResources().endSpec().build()).serverSideApply();
    out.println("applied " + NAMESPACE + "/" + MODEL + " (8 workers x 36 slots, 58 MoE layers x 256 experts)");
  }

  /** Waits for Ready, printing each new reason on the way. */
  private MoEModel awaitReady(Duration timeout, BooleanSupplier stop) {
    String[] last = {""};
    return model.await("Ready model", m -> {
      var ready = ModelClient.condition(m, Conditions.READY);
      String now = ready.map(c -> c.getReason() + ": " + c.getMessage()).orElse("waiting for the operator");
      if (!now.equals(last[0])) {
        out.println("  " + MODEL + ": " + now);
        last[0] = now;
      }
      return ModelClient.isTrue(m, Conditions.READY);
    }, timeout, stop);
  }

  /** Records the model's status and prints the live line. */
  private void sample(List<StatusSample> samples, List<RequestRecord> requests, long startNanos) {
    try {
      MoEModel m = model.get();
      CurrentPlacement c = m.getStatus().getCurrentPlacement();
      double t = (System.nanoTime() - startNanos) / 1e9;
      double observed = c.getObservedBalancedness() == null ? Double.NaN : c.getObservedBalancedness();
      double predicted = c.getPredictedBalancedness() == null ? Double.NaN : c.getPredictedBalancedness();
      samples.add(new StatusSample(t, c.getRevision(), observed, predicted));
      long moved = m.getStatus().getRebalanceHistory() == null ? 0 : m.getStatus().getRebalanceHistory().stream()
          .filter(d -> d.getDecision() == Decision.TAKEN && d.getReplicasMoved() != null)
          .mapToLong(RebalanceDecision::getReplicasMoved).sum();
      List<RequestRecord> recent;
      synchronized (requests) {
        recent = List.copyOf(requests.subList(Math.max(0, requests.size() - 16), requests.size()));
      }
      double[] tpot = recent.stream().filter(r -> r.result().ok()).mapToDouble(r -> r.result().tpotMillis())
          .filter(Double::isFinite).sorted().toArray();
      out.printf(Locale.ROOT, "\r%5.0f s  %-7s  requests %5d  serving %-20s  balancedness observed %s predicted %s"
              + "  moved %5d  TPOT p50 %s ms   ", t, recent.isEmpty() ? "-" : recent.getLast().phase(),
          requests.size(), c.getRevision(), fixed(observed), fixed(predicted), moved,
          tpot.length == 0 ? "-" : String.format(Locale.ROOT, "%.1f", tpot[tpot.length / 2]));
      out.flush();
    } catch (RuntimeException e) {
      out.print("\r(status unavailable: " + e.getMessage() + ")");
    }
  }

  /** When the operator first reported a revision other than {@code before} served, after the shift; NaN before. */
  private static double switchAt(List<StatusSample> samples, String before, double shiftAt) {
    synchronized (samples) {
      return samples.stream().filter(x -> x.t() >= shiftAt && !before.equals(x.revision()))
          .mapToDouble(StatusSample::t).findFirst().orElse(Double.NaN);
    }
  }

  private static RebalanceDecision firstTakenAfter(MoEModel model, Instant after) {
    if (model.getStatus().getRebalanceHistory() == null) {
      return null;
    }
    return model.getStatus().getRebalanceHistory().stream()
        .filter(d -> d.getDecision() == Decision.TAKEN && Instant.parse(d.getTime()).isAfter(after))
        .min(Comparator.comparing(d -> Instant.parse(d.getTime()))).orElse(null);
  }

  private static boolean observed(List<StatusSample> samples, String revision) {
    synchronized (samples) {
      return samples.stream().anyMatch(x -> revision.equals(x.revision()) && !Double.isNaN(x.observed()));
    }
  }

  private static boolean observedOtherThan(List<StatusSample> samples, String revision) {
    synchronized (samples) {
      return samples.stream().anyMatch(x -> !revision.equals(x.revision()) && !Double.isNaN(x.observed()));
    }
  }

  private static String fixed(double v) {
    return Double.isNaN(v) ? "  -  " : String.format(Locale.ROOT, "%.3f", v);
  }
}

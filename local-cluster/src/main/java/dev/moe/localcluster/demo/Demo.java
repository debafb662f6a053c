package dev.moe.localcluster.demo;

import dev.moe.crds.v1alpha1.Conditions;
import dev.moe.crds.v1alpha1.CurrentPlacement;
import dev.moe.crds.v1alpha1.Decision;
import dev.moe.crds.v1alpha1.MoEModel;
import dev.moe.crds.v1alpha1.RebalanceDecision;
import dev.moe.localcluster.demo.DemoReport.StatusSample;
import dev.moe.localcluster.demo.TrafficReplay.Phase;
import dev.moe.localcluster.demo.TrafficReplay.StepRecord;
import dev.moe.localcluster.system.ModelClient;
import dev.moe.localcluster.system.ShiftStatistics;
import dev.moe.runtime.model.Checkpoint;
import dev.moe.runtime.synthetic.SyntheticCheckpoint;
import dev.moe.stats.RoutingStats;
import dev.moe.stats.RoutingStatsReader;
import io.fabric8.kubernetes.api.model.PersistentVolumeBuilder;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaimBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
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
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.stream.IntStream;

/**
 * The demo on a running local cluster with the operator installed: applies the example model
 * (real weights generated in DeepSeek-V3's layout), waits until the operator has placed it and
 * its workers serve, replays DeepSeek-V3's measured decode routing then prefill routing through
 * them, shows the operator's answer live, and ends with the report.
 */
public final class Demo {

  /**
   * @param decode how long decode traffic runs before the shift, at least: the shift also waits (up
   *     to {@link #OBSERVATION_LIMIT_MINUTES} more) for the operator's first observation of decode traffic,
   *     the "before" of the comparison
   * @param prefillLimit the longest prefill traffic runs
   * @param afterRebalance how long prefill traffic runs once a rebalanced placement serves
   */
  public record Options(Path repo, Path statistics, Path cacheDir, Path outDir, Duration decode,
      Duration prefillLimit, Duration afterRebalance, int tokensPerStep) {}

  static final String NAMESPACE = "moe-demo";
  static final String MODEL = "deepseek-v3-mini";
  private static final int TRANSPORT_PORT = 7070;
  /** How much longer than {@code decode} the shift waits for the operator's first observation. */
  public static final int OBSERVATION_LIMIT_MINUTES = 4;

  private final KubernetesClient client;
  private final ModelClient model;
  private final Options options;
  private final PrintStream out;

  public Demo(KubernetesClient client, Options options, PrintStream out) {
    this.client = client;
    this.model = new ModelClient(client, NAMESPACE, MODEL);
    this.options = options;
    this.out = out;
  }

  /** Runs the demo; true when the operator rebalanced after the shift and a new placement served. */
  public boolean run(BooleanSupplier stop) {
    RoutingStats decode = RoutingStatsReader.read(options.statistics().resolve(ShiftStatistics.DECODE));
    RoutingStats prefill = RoutingStatsReader.read(options.statistics().resolve(ShiftStatistics.PREFILL));
    Path weights = checkpoint(decode, prefill);
    apply(weights);
    Instant created = Instant.now();
    MoEModel ready = awaitReady(Duration.ofMinutes(5), stop);
    out.printf(Locale.ROOT, "%s Ready %.0f s after it was applied: %s, predicted balancedness %.3f%n", MODEL,
        Duration.between(created, Instant.now()).toMillis() / 1e3,
        ready.getStatus().getCurrentPlacement().getRevision(),
        ready.getStatus().getCurrentPlacement().getPredictedBalancedness());
    List<StepRecord> steps = Collections.synchronizedList(new ArrayList<>());
    List<StatusSample> samples = Collections.synchronizedList(new ArrayList<>());
    String before = ready.getStatus().getCurrentPlacement().getRevision();
    // Placement versions are revision numbers (<model>-r<N> is version N).
    long servedAtStart = Long.parseLong(before.substring(before.lastIndexOf("-r") + 2));
    TrafficReplay replay = connect(ready, moeLayers(decode), servedAtStart);
    // One clock for the steps, the status samples and the operator's decisions: from the first step.
    long startNanos = System.nanoTime();
    Instant start = Instant.now();
    ScheduledExecutorService sampler = Executors.newSingleThreadScheduledExecutor();
    double[] shiftAt = {Double.NaN};
    double[] switchAt = {Double.NaN};
    try (replay) {
      sampler.scheduleAtFixedRate(() -> sample(samples, steps, startNanos), 0, 1, TimeUnit.SECONDS);
      long decodeLimit = options.decode().plusMinutes(OBSERVATION_LIMIT_MINUTES).toSeconds();
      replay.run(startNanos, List.of(new Phase("decode", decode, t -> t >= options.decode().toSeconds()
                  && (observed(samples, before) || t >= decodeLimit)),
              new Phase("prefill", prefill, t -> t >= options.prefillLimit().toSeconds())),
          s -> {
            if (Double.isNaN(shiftAt[0]) && s.phase().equals("prefill")) {
              shiftAt[0] = s.atSeconds();
            }
            if (Double.isNaN(switchAt[0]) && s.phase().equals("prefill") && s.version() > servedAtStart) {
              switchAt[0] = s.atSeconds();
            }
            steps.add(s);
          },
          // Ends once the new placement has served for afterRebalance and the operator has observed it.
          () -> stop.getAsBoolean() || (!Double.isNaN(switchAt[0])
              && (System.nanoTime() - startNanos) / 1e9 > switchAt[0] + options.afterRebalance().toSeconds()
              && observedOtherThan(samples, before)));
    } finally {
      sampler.shutdownNow();
    }
    out.println();
    MoEModel last = model.get();
    RebalanceDecision taken = Double.isNaN(shiftAt[0]) ? null
        : firstTakenAfter(last, start.plusMillis((long) (shiftAt[0] * 1000)));
    double decisionAt = taken == null ? Double.NaN
        : Duration.between(start, Instant.parse(taken.getTime())).toMillis() / 1e3;
    DemoReport.Run run = new DemoReport.Run(List.copyOf(steps), List.copyOf(samples), shiftAt[0], decisionAt,
        switchAt[0], taken == null || taken.getReplicasMoved() == null ? 0 : taken.getReplicasMoved(),
        taken == null || taken.getObservedBalancedness() == null ? Double.NaN : taken.getObservedBalancedness(), before, last.getStatus().getCurrentPlacement().getRevision());
    DemoReport.write(run, options.outDir(), out);
    return DemoReport.rebalanced(run);
  }

  /** Connects to the workers and waits until they serve {@code version}. */
  private TrafficReplay connect(MoEModel ready, int[] layers, long version) {
    TrafficReplay replay = new TrafficReplay(workerAddresses(ready), SyntheticCheckpoint.HIDDEN, layers,
        SyntheticCheckpoint.TOP_K, options.tokensPerStep(), 42);
    try {
      replay.awaitVersion(version, Duration.ofMinutes(2));
      return replay;
    } catch (RuntimeException e) {
      replay.close();
      throw e;
    }
  }

  /**
   * Generates the weights once, routers fitted to the statistics; later runs reuse them. Written
   * beside the cache entry and moved into place, so an interrupted run leaves no half-fitted model.
   */
  private Path checkpoint(RoutingStats decode, RoutingStats prefill) {
    Path dir = options.cacheDir().resolve("deepseek-v3-mini-servable-h" + SyntheticCheckpoint.HIDDEN);
    if (Files.exists(dir.resolve(Checkpoint.CONFIG))) {
      return dir;
    }
    out.println("generating the weights (DeepSeek-V3 layout, hidden " + SyntheticCheckpoint.HIDDEN
        + ", routers fitted to the statistics) into " + dir);
    try {
      Files.createDirectories(options.cacheDir());
      Path partial = Files.createTempDirectory(options.cacheDir(), dir.getFileName() + ".");
      out.println(SyntheticCheckpoint.write(partial, decode, prefill, 1).summary());
      Files.move(partial, dir, StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write the demo's weights into " + dir + ": " + e.getMessage(), e);
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

  private List<InetSocketAddress> workerAddresses(MoEModel ready) {
    List<Pod> pods = client.pods().inNamespace(NAMESPACE).withLabel("moe.dev/model", MODEL).list().getItems()
        .stream().sorted(Comparator.comparingInt(p -> ordinal(p.getMetadata().getName()))).toList();
    int workers = ready.getSpec().getParallelism().getWorkers();
    if (pods.size() != workers) {
      throw new IllegalStateException("expected " + workers + " worker pods, found " + pods.size());
    }
    return pods.stream().map(p -> new InetSocketAddress(p.getStatus().getPodIP(), TRANSPORT_PORT)).toList();
  }

  private static int ordinal(String podName) {
    return Integer.parseInt(podName.substring(podName.lastIndexOf('-') + 1));
  }

  private static int[] moeLayers(RoutingStats stats) {
    return IntStream.range(0, stats.layers()).filter(l -> !stats.isDense(l)).toArray();
  }

  /** Records the model's status and prints the live line. */
  private void sample(List<StatusSample> samples, List<StepRecord> steps, long startNanos) {
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
      StepRecord s;
      int n;
      synchronized (steps) {
        n = steps.size();
        s = n == 0 ? null : steps.getLast();
      }
      out.printf(Locale.ROOT, "\r%5.0f s  %-7s  steps %5d  serving %-20s  balancedness observed %s predicted %s"
              + "  moved %5d  slowest worker %s ms   ", t, s == null ? "-" : s.phase(), n,
          c.getRevision() + " (v" + (s == null ? "-" : s.version()) + ")", fixed(observed), fixed(predicted), moved,
          s == null ? "-" : String.format(Locale.ROOT, "%.1f", s.slowestWorkerMs()));
      out.flush();
    } catch (RuntimeException e) {
      out.print("\r(status unavailable: " + e.getMessage() + ")");
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

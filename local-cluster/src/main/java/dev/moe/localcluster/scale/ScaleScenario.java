package dev.moe.localcluster.scale;

import dev.moe.crds.v1alpha1.Conditions;
import dev.moe.crds.v1alpha1.Decision;
import dev.moe.crds.v1alpha1.ExpertPlacement;
import dev.moe.crds.v1alpha1.ExpertPlacementSpec;
import dev.moe.placement.ClusterSpec;
import dev.moe.placement.Placement;
import dev.moe.placement.PlacementEvaluator;
import dev.moe.placement.PlacementJson;
import dev.moe.crds.v1alpha1.MoEModel;
import dev.moe.crds.v1alpha1.RebalanceDecision;
import dev.moe.localcluster.system.ModelClient;
import dev.moe.localcluster.system.WorkerControl;
import dev.moe.localcluster.system.ShiftStatistics;
import dev.moe.stats.RoutingStats;
import dev.moe.stats.RoutingStatsReader;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.autoscaling.v2.HorizontalPodAutoscaler;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Locale;
import java.util.Map;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.BooleanSupplier;
import java.util.TreeMap;
import java.util.function.Predicate;
import java.util.stream.IntStream;
import java.util.stream.Stream;

/**
 * DeepSeek-V3 at the scale the operator is for, simulated: 18 kwok nodes of 8 GPUs, a MoEModel
 * of 144 one-GPU workers that the real scheduler places, the workers' HTTP API answered on the
 * kwok pods' IPs by {@link SimulatedWorkers} from the measured decode statistics, then prefill's.
 * Prints how long the operator takes to place the model and to answer the shift, how many
 * replicas it moves and the balancedness before and after.
 */
public final class ScaleScenario {

  /** @param shiftAfter how long decode traffic runs once the model is Ready */
  public record Options(Path repo, Path statistics, int nodes, int gpusPerNode, Duration shiftAfter,
      Duration timeout) {}

  /** What the run measured, for the report and for tests. */
  public record Result(double placementReadySeconds, double workersReadySeconds, double decisionAfterShiftSeconds,
      double settledAfterShiftSeconds, int rebalances, long replicasMoved, long replicas, double observedBeforeShift,
      double observedOnPrefill, double predictedAfter, double observedAfter, Map<String, Integer> podsPerNode,
      String autoscaler, double scaleSeconds) {}

  static final String NAMESPACE = "moe-scale";
  static final String MODEL = "deepseek-v3";
  /** As in local-cluster/scale/deepseek-v3.yaml. */
  static final int SLOTS_PER_GPU = 2;
  static final Duration WINDOW = Duration.ofSeconds(20);
  /** What the scenario scales the model to at the end: 17 nodes' worth. */
  static final int SCALED_WORKERS = 136;

  private final KubernetesClient client;
  private final ModelClient model;
  private final Options options;
  private final PrintStream out;

  public ScaleScenario(KubernetesClient client, Options options, PrintStream out) {
    this.client = client;
    this.model = new ModelClient(client, NAMESPACE, MODEL);
    this.options = options;
    this.out = out;
  }

  public Result run(BooleanSupplier stop) {
    RoutingStats decode = RoutingStatsReader.read(options.statistics().resolve(ShiftStatistics.DECODE));
    RoutingStats prefill = RoutingStatsReader.read(options.statistics().resolve(ShiftStatistics.PREFILL));
    int gpus = options.nodes() * options.gpusPerNode();
    KwokNodes.create(client, options.nodes(), options.gpusPerNode());
    RecordedTraffic traffic = new RecordedTraffic(decode, prefill, Duration.ofSeconds(10));
    WorkerControl control = applyModel();
    try (SimulatedWorkers workers = new SimulatedWorkers(traffic, control, gpus);
        var watch = workers.serveEvery(client, NAMESPACE)) {
      Instant created = Instant.parse(model.get().getMetadata().getCreationTimestamp());
      MoEModel placed = await("PlacementReady", m -> ModelClient.isTrue(m, Conditions.PLACEMENT_READY), stop);
      double placementReady = since(created, transition(placed, Conditions.PLACEMENT_READY));
      out.printf(Locale.ROOT, "PlacementReady %.1f s after creation: %s%n", placementReady,
          ModelClient.condition(placed, Conditions.PLACEMENT_READY).orElseThrow().getMessage());
      MoEModel ready = await("Ready", m -> ModelClient.isTrue(m, Conditions.READY), stop);
      double workersReady = since(created, transition(ready, Conditions.WORKERS_READY));
      Map<String, Integer> perNode = podsPerNode();
      out.printf(Locale.ROOT, "%d worker pods placed by kube-scheduler on %d nodes %s, all Ready %.1f s after"
          + " creation%n", gpus, perNode.size(), new TreeMap<>(perNode).values(), workersReady);
      String first = ready.getStatus().getCurrentPlacement().getRevision();
      Instant readyAt = Instant.now();
      MoEModel onDecode = await("a window of decode observed", m -> observedSince(m, first, readyAt), stop);
      double decodeObserved = onDecode.getStatus().getCurrentPlacement().getObservedBalancedness();
      ModelClient.sleep(options.shiftAfter());
      Instant shift = Instant.now();
      traffic.shift();
      double onPrefill = balancedness(first, moeOnly(prefill), gpus);
      out.printf(Locale.ROOT, "observed on decode %.4f; traffic shifted to prefill, where %s gives %.4f%n",
          decodeObserved, first, onPrefill);
      // Settled: the newest revision, observed on a window wholly after its rollout, is above the trigger,
      // or the operator declined to move further from it for too little predicted gain.
      // Every decision as it comes: the model's history keeps only the newest, and a long path outlives it.
      Map<String, RebalanceDecision> seen = new ConcurrentHashMap<>();
      MoEModel settled = await("the placement to settle on prefill", m -> {
        decisions(m).filter(d -> Instant.parse(d.getTime()).isAfter(shift))
            .filter(d -> seen.putIfAbsent(d.getTime(), d) == null).forEach(d -> out.printf(Locale.ROOT,
                "  %5.1f s after the shift: %s %s (%d replicas)%n", since(shift, Instant.parse(d.getTime())),
                d.getDecision() == Decision.TAKEN ? "taken:" : "declined:", d.getReason(), d.getReplicasMoved()));
        var c = m.getStatus().getCurrentPlacement();
        if (first.equals(c.getRevision()) || c.getRolledOutAt() == null
            || !observedSince(m, c.getRevision(), Instant.parse(c.getRolledOutAt()))) {
          return false;
        }
        Instant rollout = Instant.parse(c.getRolledOutAt());
        boolean declined = decisions(m).anyMatch(d -> d.getDecision() == Decision.DECLINED
            && d.getReason().startsWith("GainBelowThreshold") && Instant.parse(d.getTime()).isAfter(rollout));
        return declined || c.getObservedBalancedness() >= m.getSpec().getRebalancing().getTriggerBalancedness();
      }, stop);
      List<RebalanceDecision> taken = seen.values().stream().filter(d -> d.getDecision() == Decision.TAKEN)
          .sorted(Comparator.comparing(RebalanceDecision::getTime)).toList();
      var current = settled.getStatus().getCurrentPlacement();
      long version = Long.parseLong(current.getRevision().substring(current.getRevision().lastIndexOf("-r") + 2));
      var report = client.resources(ExpertPlacement.class).inNamespace(NAMESPACE).withName(current.getRevision()).get()
          .getSpec().getReport();
      out.printf(Locale.ROOT, "settled on %s (predicted %.4f, the solver's bound on its window %.4f), posted to %d of"
          + " %d workers%n", current.getRevision(), report.getBalancedness(), report.getBalancednessBound(),
          workers.posts(version), gpus);
      String hpa = autoscaler(stop);
      double scaled = scaleTo(SCALED_WORKERS, stop);
      Result result = new Result(placementReady, workersReady,
          since(shift, Instant.parse(taken.getFirst().getTime())), since(shift, Instant.parse(current.getRolledOutAt())),
          taken.size(), taken.stream().mapToLong(d -> d.getReplicasMoved() == null ? 0 : d.getReplicasMoved()).sum(),
          (long) moeLayers(decode) * gpus * SLOTS_PER_GPU, decodeObserved, onPrefill,
          current.getPredictedBalancedness(), current.getObservedBalancedness(), perNode, hpa, scaled);
      print(result);
      return result;
    }
  }

  private void print(Result r) {
    out.println();
    out.printf(Locale.ROOT, "DeepSeek-V3 (58 x 256) on %d GPUs (%d kwok nodes x %d), %d slots per GPU%n",
        options.nodes() * options.gpusPerNode(), options.nodes(), options.gpusPerNode(), SLOTS_PER_GPU);
    out.printf(Locale.ROOT, "  %-42s %8.1f s%n", "time to PlacementReady", r.placementReadySeconds());
    out.printf(Locale.ROOT, "  %-42s %8.1f s%n", "time to all workers Ready", r.workersReadySeconds());
    out.printf(Locale.ROOT, "  %-42s %8.1f s%n", "shift -> first rebalance decided", r.decisionAfterShiftSeconds());
    out.printf(Locale.ROOT, "  %-42s %8.1f s%n", "shift -> settled placement posted", r.settledAfterShiftSeconds());
    out.printf(Locale.ROOT, "  %-42s %8d%n", "rebalances taken", r.rebalances());
    out.printf(Locale.ROOT, "  %-42s %8d of %d (%.1f%%)%n", "replicas moved (all of them)", r.replicasMoved(),
        r.replicas(), 100.0 * r.replicasMoved() / r.replicas());
    out.printf(Locale.ROOT, "  %-42s %8.4f%n", "balancedness on decode (observed)", r.observedBeforeShift());
    out.printf(Locale.ROOT, "  %-42s %8.4f%n", "on prefill, same placement (evaluated)", r.observedOnPrefill());
    out.printf(Locale.ROOT, "  %-42s %8.4f%n", "after the rebalance (predicted)", r.predictedAfter());
    out.printf(Locale.ROOT, "  %-42s %8.4f%n", "after the rebalance (observed)", r.observedAfter());
    out.printf(Locale.ROOT, "  %-42s %s%n", "HorizontalPodAutoscaler on the MoEModel", r.autoscaler());
    out.printf(Locale.ROOT, "  %-42s %8.1f s%n", "scale 144 -> " + SCALED_WORKERS + " workers, to Ready",
        r.scaleSeconds());
  }

  /**
   * The chart's HPA example, pointed at this model: the controller manager's HPA controller must
   * resolve the MoEModel's scale subresource; with no metrics adapter here it cannot read the metric.
   */
  private String autoscaler(BooleanSupplier stop) {
    HorizontalPodAutoscaler hpa;
    try (InputStream yaml = Files.newInputStream(options.repo().resolve("charts/moe-operator/examples/hpa.yaml"))) {
      hpa = client.autoscaling().v2().horizontalPodAutoscalers().load(yaml).item();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the HPA example", e);
    }
    hpa.getMetadata().setNamespace(NAMESPACE);
    hpa.getMetadata().setName(MODEL);
    hpa.getSpec().getScaleTargetRef().setName(MODEL);
    hpa.getSpec().setMinReplicas(SCALED_WORKERS);
    hpa.getSpec().setMaxReplicas(options.nodes() * options.gpusPerNode());
    client.autoscaling().v2().horizontalPodAutoscalers().resource(hpa).serverSideApply();
    long deadline = System.nanoTime() + options.timeout().toNanos();
    while (System.nanoTime() < deadline && !stop.getAsBoolean()) {
      var status = client.autoscaling().v2().horizontalPodAutoscalers().inNamespace(NAMESPACE).withName(MODEL).get()
          .getStatus();
      var able = status == null || status.getConditions() == null ? null : status.getConditions().stream()
          .filter(c -> c.getType().equals("AbleToScale")).findFirst().orElse(null);
      if (able != null && "True".equals(able.getStatus())) {
        String active = status.getConditions().stream().filter(c -> c.getType().equals("ScalingActive"))
            .map(c -> ", ScalingActive=" + c.getStatus() + " " + c.getReason()).findFirst().orElse("");
        out.println("HPA: AbleToScale=True " + able.getReason() + active + " (no metrics adapter here)");
        return "AbleToScale " + able.getReason() + active;
      }
      ModelClient.sleep(Duration.ofSeconds(1));
    }
    throw new IllegalStateException("the HPA controller did not resolve the MoEModel's scale subresource within "
        + options.timeout().toSeconds() + " s");
  }

  /** Scales through the scale subresource, as kubectl scale does; seconds until the model is Ready again. */
  private double scaleTo(int workers, BooleanSupplier stop) {
    Instant start = Instant.now();
    String before = model.get().getStatus().getCurrentPlacement().getRevision();
    client.resources(MoEModel.class).inNamespace(NAMESPACE).withName(MODEL).scale(workers);
    await(workers + " workers Ready on a new placement", m -> m.getStatus().getWorkers() != null
        && !before.equals(m.getStatus().getCurrentPlacement().getRevision())
        && Integer.valueOf(workers).equals(m.getStatus().getWorkers().getReady())
        && Integer.valueOf(workers).equals(m.getStatus().getWorkers().getDesired()) && ModelClient.isTrue(m, Conditions.READY)
        && client.pods().inNamespace(NAMESPACE).withLabel("moe.dev/model", MODEL).list().getItems().size() == workers,
        stop);
    double seconds = since(start, Instant.now());
    out.printf(Locale.ROOT, "scaled to %d workers through the scale subresource: Ready %.1f s later, %s%n", workers,
        seconds, model.get().getStatus().getCurrentPlacement().getRevision());
    return seconds;
  }

  /** Applies the model with the decode statistics; returns the workers' token and certificate once the operator made them. */
  private WorkerControl applyModel() {
    model.apply(options.statistics().resolve(ShiftStatistics.DECODE),
        options.repo().resolve("local-cluster/scale/" + MODEL + ".yaml"));
    out.printf(Locale.ROOT, "applied %s/%s: %d workers on %d kwok nodes of %d GPUs%n", NAMESPACE, MODEL,
        options.nodes() * options.gpusPerNode(), options.nodes(), options.gpusPerNode());
    return SimulatedWorkers.awaitControl(client, NAMESPACE, MODEL, options.timeout());
  }

  private MoEModel await(String what, Predicate<MoEModel> done, BooleanSupplier stop) {
    return model.await(what, done, options.timeout(), stop);
  }

  private static Instant transition(MoEModel m, String type) {
    return Instant.parse(ModelClient.condition(m, type).orElseThrow().getLastTransitionTime());
  }

  /** Whether {@code revision} serves and was observed on a window that began after {@code since}. */
  private static boolean observedSince(MoEModel m, String revision, Instant since) {
    var c = m.getStatus().getCurrentPlacement();
    return c != null && revision.equals(c.getRevision()) && c.getObservedAt() != null
        && c.getObservedBalancedness() != null
        && Instant.parse(c.getObservedAt()).isAfter(since.plus(WINDOW));
  }

  private static Stream<RebalanceDecision> decisions(MoEModel m) {
    return m.getStatus().getRebalanceHistory() == null ? Stream.empty() : m.getStatus().getRebalanceHistory().stream();
  }

  /** What revision {@code name} achieves on {@code traffic}, as the solver evaluates it. */
  private double balancedness(String name, RoutingStats traffic, int gpus) {
    ExpertPlacement revision = client.resources(ExpertPlacement.class).inNamespace(NAMESPACE).withName(name).get();
    byte[] json = Serialization.asJson(revision.getSpec()).getBytes(StandardCharsets.UTF_8);
    Placement placement = PlacementJson.parseEmbedded(json, name, traffic.experts(), 0,
        ExpertPlacementSpec.OTHER_FIELDS);
    return PlacementEvaluator.evaluate(traffic, new ClusterSpec(gpus, options.gpusPerNode(), SLOTS_PER_GPU), placement,
        null, 0).balancedness();
  }

  /** The MoE layers' rows, as the operator's placements have them. */
  private static RoutingStats moeOnly(RoutingStats stats) {
    return RoutingStats.ofCounts(IntStream.range(0, stats.layers()).filter(l -> !stats.isDense(l))
        .mapToObj(stats::load).toArray(double[][]::new));
  }

  private Map<String, Integer> podsPerNode() {
    Map<String, Integer> perNode = new ConcurrentHashMap<>();
    for (Pod p : client.pods().inNamespace(NAMESPACE).list().getItems()) {
      if (p.getSpec().getNodeName() != null) {
        perNode.merge(p.getSpec().getNodeName(), 1, Integer::sum);
      }
    }
    return perNode;
  }

  private static int moeLayers(RoutingStats stats) {
    return (int) IntStream.range(0, stats.layers()).filter(l -> !stats.isDense(l)).count();
  }

  private static double since(Instant from, Instant to) {
    return Duration.between(from, to).toMillis() / 1e3;
  }
}

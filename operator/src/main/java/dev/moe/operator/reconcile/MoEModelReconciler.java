package dev.moe.operator.reconcile;

import dev.moe.crds.v1alpha1.Conditions;
import dev.moe.crds.v1alpha1.CurrentPlacement;
import dev.moe.crds.v1alpha1.Decision;
import dev.moe.crds.v1alpha1.ExpertPlacement;
import dev.moe.crds.v1alpha1.MoEModel;
import dev.moe.crds.v1alpha1.MoEModelStatus;
import dev.moe.crds.v1alpha1.RebalanceDecision;
import dev.moe.crds.v1alpha1.RebalancingMode;
import dev.moe.crds.v1alpha1.WorkersStatus;
import dev.moe.operator.dependent.StatsTokenSecretDependent;
import dev.moe.operator.dependent.WorkerRoleBindingDependent;
import dev.moe.operator.dependent.WorkerRoleDependent;
import dev.moe.operator.dependent.WorkerServiceAccountDependent;
import dev.moe.operator.dependent.WorkerServiceDependent;
import dev.moe.operator.dependent.WorkerStatefulSetDependent;
import dev.moe.operator.metrics.OperatorMetrics;
import dev.moe.operator.placement.InvalidModelException;
import dev.moe.operator.placement.ModelLayout;
import dev.moe.operator.placement.PlacementRevisions;
import dev.moe.operator.placement.SurvivorPlanner;
import dev.moe.operator.rebalance.RebalanceDecider;
import dev.moe.operator.rebalance.RebalanceRules;
import dev.moe.operator.rollout.PlacementPublisher;
import dev.moe.operator.rollout.RolloutException;
import dev.moe.operator.stats.ModelStatistics;
import dev.moe.operator.stats.StatisticsSource;
import dev.moe.operator.stats.StatisticsUnavailableException;
import dev.moe.placement.Placement;
import dev.moe.placement.solve.PlacementSolver;
import dev.moe.stats.RoutingStats;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ConfigMapKeySelector;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.ControllerConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.ErrorStatusUpdateControl;
import io.javaoperatorsdk.operator.api.reconciler.Reconciler;
import io.javaoperatorsdk.operator.api.reconciler.UpdateControl;
import io.javaoperatorsdk.operator.api.reconciler.Workflow;
import io.javaoperatorsdk.operator.api.reconciler.dependent.Dependent;
import jakarta.inject.Inject;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Reconciles a MoEModel: the workers and their credentials (dependent resources), then the
 * placement: the revision to serve (initial, re-planned after a spec change or a lost worker,
 * pinned, or from a rebalance), its rollout to the workers, and the rebalance check. Everything
 * it decides is in the status, as Events and as metrics; state lives in the API server (the
 * ExpertPlacement revisions and the status), so a restarted operator resumes where it stopped.
 */
@Workflow(dependents = {
    @Dependent(type = WorkerServiceAccountDependent.class),
    @Dependent(type = WorkerRoleDependent.class),
    @Dependent(type = WorkerRoleBindingDependent.class),
    @Dependent(type = StatsTokenSecretDependent.class),
    @Dependent(type = WorkerServiceDependent.class),
    @Dependent(type = WorkerStatefulSetDependent.class)})
@ControllerConfiguration(name = MoEModelReconciler.NAME, fieldManager = MoEModelReconciler.FIELD_MANAGER)
public class MoEModelReconciler implements Reconciler<MoEModel> {

  public static final String NAME = "moemodel";
  /** The one field manager of everything the operator writes. */
  public static final String FIELD_MANAGER = "moe-operator";
  /** How often a model is looked at while nothing else happens: workers and statistics change silently. */
  static final Duration RECHECK = Duration.ofSeconds(30);

  private final StatisticsSource statistics;
  private final PlacementPublisher publisher;
  private final OperatorMetrics metrics;
  private final Clock clock;

  @Inject
  public MoEModelReconciler(StatisticsSource statistics, PlacementPublisher publisher, OperatorMetrics metrics,
      Clock clock) {
    this.statistics = statistics;
    this.publisher = publisher;
    this.metrics = metrics;
    this.clock = clock;
  }

  @Override
  public UpdateControl<MoEModel> reconcile(MoEModel model, Context<MoEModel> context) {
    KubernetesClient client = context.getClient();
    StatusWriter status = new StatusWriter(model, clock);
    Duration next = RECHECK;
    try {
      next = reconcilePlacement(client, model, status);
    } catch (InvalidModelException e) {
      status.condition(Conditions.PLACEMENT_READY, false, Reasons.INVALID_SPEC, e.getMessage());
    } catch (StatisticsUnavailableException e) {
      status.condition(Conditions.PLACEMENT_READY, false, Reasons.STATISTICS_INVALID, e.getMessage());
    }
    return patch(model, status.finish(client), next);
  }

  @Override
  public ErrorStatusUpdateControl<MoEModel> updateErrorStatus(MoEModel model, Context<MoEModel> context, Exception e) {
    metrics.reconcileError(model.getMetadata().getNamespace(), model.getMetadata().getName());
    return ErrorStatusUpdateControl.noStatusUpdate();
  }

  private UpdateControl<MoEModel> patch(MoEModel model, MoEModelStatus status, Duration next) {
    MoEModel patch = new MoEModel();
    patch.setMetadata(new io.fabric8.kubernetes.api.model.ObjectMetaBuilder()
        .withName(model.getMetadata().getName()).withNamespace(model.getMetadata().getNamespace()).build());
    patch.setStatus(status);
    return UpdateControl.patchStatus(patch).rescheduleAfter(next);
  }

  private Duration reconcilePlacement(KubernetesClient client, MoEModel model, StatusWriter status) {
    String ns = model.getMetadata().getNamespace();
    String name = model.getMetadata().getName();
    ModelLayout layout = ModelLayout.of(model.getSpec());
    RebalanceRules rules = RebalanceRules.of(model.getSpec().getRebalancing(), layout.layers(), layout.cluster().slots());

    WorkerHealth health = WorkerHealth.read(client, model, layout.workers());
    // Lost means: all were ready at this size, or it was degraded already; a scale-up's new workers are starting.
    boolean sameSize = Integer.valueOf(layout.workers()).equals(status.previousDesired());
    Set<Integer> lost = health.lost();
    boolean degraded = sameSize && !lost.isEmpty()
        && (status.was(Conditions.WORKERS_READY) || status.was(Conditions.DEGRADED));
    WorkersStatus workers = new WorkersStatus();
    workers.setDesired(layout.workers());
    workers.setReady(health.ready().size());
    status.status().setWorkers(workers);
    metrics.reconciled(ns, name, workers.getReady(), workers.getDesired());
    status.status().setSelector(WorkerStatefulSetDependent.selector(model).entrySet().stream()
        .sorted(Map.Entry.comparingByKey()).map(e -> e.getKey() + "=" + e.getValue()).collect(Collectors.joining(",")));
    status.condition(Conditions.WORKERS_READY, health.allReady(),
        health.allReady() ? Reasons.ALL_READY : Reasons.WORKERS_STARTING,
        health.ready().size() + " of " + layout.workers() + " workers ready");

    PlacementRevisions revisions = new PlacementRevisions(client);
    List<ExpertPlacement> list = revisions.list(model);
    CurrentPlacement current = status.current();
    Long pinned = model.getSpec().getPlacement() == null ? null : model.getSpec().getPlacement().getPinnedRevision();
    ExpertPlacement newest = list.isEmpty() ? null : list.getLast();
    long nextRevision = newest == null ? 1 : newest.getSpec().getRevision() + 1;
    boolean served = current.getRolledOutAt() != null;

    ExpertPlacement target;
    if (pinned != null) {
      Optional<ExpertPlacement> found = PlacementRevisions.find(list, pinned);
      if (found.isEmpty() || !fits(found.get(), layout)) {
        status.condition(Conditions.PLACEMENT_READY, false, Reasons.PINNED_REVISION_MISSING,
            "placement.pinnedRevision " + pinned + (found.isEmpty() ? " does not exist (kept: "
                + list.stream().map(p -> p.getSpec().getRevision().toString()).collect(Collectors.joining(", ")) + ")"
                : " was made for another parallelism"));
        return RECHECK;
      }
      target = found.get();
    } else if (newest == null || !fits(newest, layout)) {
      target = revisions.create(model, nextRevision, initialPlan(client, model, layout, served, rules));
      recordSolve(ns, name, target);
    } else {
      target = newest;
    }
    Placement placement = revisions.toPlacement(target, layout.experts());
    status.condition(Conditions.PLACEMENT_READY, true, Reasons.PLACED, describe(target));

    // A worker lost: serve on, say so, and re-plan onto the survivors if an expert lost its last replica.
    status.condition(Conditions.DEGRADED, degraded, degraded ? Reasons.WORKER_LOST : Reasons.HEALTHY,
        degraded ? "workers " + lost + " not ready" : "no worker lost");
    if (degraded && pinned == null && health.ready().size() > 0
        && SurvivorPlanner.orphansExperts(placement, layout, lost, layout.experts())) {
      RoutingStats stats = lastOrUniform(model, layout, rules);
      target = revisions.create(model, nextRevision, SurvivorPlanner.plan(stats, layout, lost));
      placement = revisions.toPlacement(target, layout.experts());
      status.condition(Conditions.DEGRADED, true, Reasons.WORKER_LOST, "workers " + lost + " not ready; "
          + target.getMetadata().getName() + " serves every expert from the " + health.ready().size() + " left");
    }

    if (!target.getMetadata().getName().equals(current.getRevision())) {
      return rollout(model, status, target, placement, health, degraded);
    }
    status.condition(Conditions.REBALANCING, false, Reasons.IDLE, "serving " + target.getMetadata().getName());
    if (current.getPredictedBalancedness() != null) {
      // Also after a restart of the operator, which starts with no gauges.
      metrics.predictedBalancedness(ns, name, current.getPredictedBalancedness());
    }
    revisions.prune(list, target.getSpec().getRevision(), pinned == null ? -1 : pinned);
    if (pinned != null || rules.mode() == RebalancingMode.Off || !health.allReady()) {
      return RECHECK;
    }
    return rebalance(client, model, status, layout, rules, revisions, placement, nextRevision);
  }

  private Duration rollout(MoEModel model, StatusWriter status, ExpertPlacement target, Placement placement,
      WorkerHealth health, boolean degraded) {
    long revision = target.getSpec().getRevision();
    boolean done = false;
    try {
      // A healthy group switches together; a degraded one switches on the workers it has left.
      if (health.allReady() || (degraded && !health.ready().isEmpty())) {
        done = publisher.publish(model, revision, placement, health.ready());
      }
    } catch (RolloutException e) {
      status.condition(Conditions.REBALANCING, false, Reasons.ROLLOUT_REFUSED, e.getMessage());
      return RECHECK;
    }
    if (!done) {
      status.condition(Conditions.REBALANCING, true, Reasons.ROLLING_OUT, "rolling out "
          + target.getMetadata().getName() + ": waiting for the workers (" + health.ready().size() + " of "
          + health.desired() + " ready)");
      return Duration.ofSeconds(5);
    }
    CurrentPlacement current = status.current();
    current.setRevision(target.getMetadata().getName());
    current.setRolledOutAt(clock.instant().toString());
    current.setObservedBalancedness(null);
    current.setObservedAt(null);
    var report = target.getSpec().getReport();
    if (report != null) {
      current.setPredictedBalancedness(report.getBalancedness());
      current.setCrossNodeFraction(report.getCrossNodeFraction());
      current.setSolverGap(report.getGap());
      if (report.getBalancedness() != null) {
        metrics.predictedBalancedness(model.getMetadata().getNamespace(), model.getMetadata().getName(),
            report.getBalancedness());
      }
    }
    status.condition(Conditions.REBALANCING, false, Reasons.IDLE, "serving " + target.getMetadata().getName());
    return Duration.ofSeconds(1);
  }

  private Duration rebalance(KubernetesClient client, MoEModel model, StatusWriter status, ModelLayout layout, RebalanceRules rules,
      PlacementRevisions revisions, Placement placement, long nextRevision) {
    String ns = model.getMetadata().getNamespace();
    String name = model.getMetadata().getName();
    CurrentPlacement current = status.current();
    Instant now = clock.instant();
    Instant observedAt = current.getObservedAt() == null ? null : Instant.parse(current.getObservedAt());
    if (observedAt != null && now.isBefore(observedAt.plus(rules.minInterval()))) {
      return min(Duration.between(now, observedAt.plus(rules.minInterval())), RECHECK);
    }
    Optional<RoutingStats> window;
    try {
      window = statistics.window(model, rules.window())
          .map(s -> ModelStatistics.fit(s, "the workers' statistics", layout.layers(), layout.experts()));
    } catch (StatisticsUnavailableException e) {
      status.condition(Conditions.REBALANCING, false, Reasons.STATISTICS_UNAVAILABLE,
          "keeping " + current.getRevision() + ": " + e.getMessage());
      return RECHECK;
    }
    if (window.isEmpty() || ModelStatistics.isEmpty(window.get())) {
      return min(rules.minInterval(), RECHECK);
    }
    Instant lastRebalance = status.lastTaken().map(d -> Instant.parse(d.getTime())).orElse(null);
    var outcome = RebalanceDecider.decide(rules, layout.options(), layout.cluster(), window.get(), placement,
        lastRebalance, now);
    current.setObservedBalancedness(outcome.observed());
    current.setObservedAt(now.toString());
    metrics.observedBalancedness(ns, name, outcome.observed());
    if (outcome.verdict().isEmpty()) {
      return min(rules.minInterval(), RECHECK);
    }
    var verdict = outcome.verdict().get();
    RebalanceDecision d = new RebalanceDecision();
    d.setTime(now.toString());
    d.setDecision(verdict.decision());
    d.setReason(verdict.reason());
    d.setObservedBalancedness(outcome.observed());
    d.setPredictedGain(verdict.predictedGain());
    d.setReplicasMoved(verdict.replicasMoved());
    status.decision(d);
    boolean taken = verdict.decision() == Decision.TAKEN;
    metrics.rebalance(ns, name, taken, verdict.replicasMoved());
    if (verdict.solveSeconds() > 0) {
      metrics.solve(ns, name, verdict.solveSeconds());
    }
    EventRecorder.record(client, model, false, taken ? "Rebalance" : "RebalanceDeclined",
        verdict.reason() + String.format(" (observed %.4f, %d replicas)", outcome.observed(), verdict.replicasMoved()));
    if (!taken) {
      return min(rules.minInterval(), RECHECK);
    }
    ExpertPlacement created = revisions.create(model, nextRevision, verdict.plan());
    status.condition(Conditions.REBALANCING, true, Reasons.ROLLING_OUT, "rolling out "
        + created.getMetadata().getName() + ": " + verdict.reason());
    return Duration.ofMillis(200);
  }

  /** The first placement for a spec: from the initial statistics, else the last window, else uniform. */
  private Placement initialPlan(KubernetesClient client, MoEModel model, ModelLayout layout, boolean served,
      RebalanceRules rules) {
    var policy = model.getSpec().getPlacement();
    RoutingStats stats;
    if (policy != null && policy.getInitialStatistics() != null && !served) {
      stats = initialStatistics(client, model, policy.getInitialStatistics().getConfigMapKeyRef(), layout);
    } else {
      stats = lastOrUniform(model, layout, rules);
    }
    return new PlacementSolver(layout.options()).solve(stats, layout.cluster(), null);
  }

  private RoutingStats lastOrUniform(MoEModel model, ModelLayout layout, RebalanceRules rules) {
    try {
      Optional<RoutingStats> window = statistics.window(model, rules.window());
      if (window.isPresent()) {
        RoutingStats fitted = ModelStatistics.fit(window.get(), "the workers' statistics", layout.layers(),
            layout.experts());
        if (!ModelStatistics.isEmpty(fitted)) {
          return fitted;
        }
      }
    } catch (StatisticsUnavailableException e) {
      // Placing without traffic data is still better than not serving.
    }
    return ModelStatistics.uniform(layout.layers(), layout.experts());
  }

  private static RoutingStats initialStatistics(KubernetesClient client, MoEModel model, ConfigMapKeySelector ref,
      ModelLayout layout) {
    String where = "ConfigMap " + ref.getName() + " key " + ref.getKey();
    ConfigMap cm = client.configMaps().inNamespace(model.getMetadata().getNamespace()).withName(ref.getName()).get();
    String text = cm == null ? null : cm.getData() != null && cm.getData().containsKey(ref.getKey())
        ? cm.getData().get(ref.getKey()) : null;
    byte[] bytes = text != null ? text.getBytes(StandardCharsets.UTF_8)
        : cm != null && cm.getBinaryData() != null && cm.getBinaryData().containsKey(ref.getKey())
            ? java.util.Base64.getDecoder().decode(cm.getBinaryData().get(ref.getKey())) : null;
    if (bytes == null) {
      throw new StatisticsUnavailableException("placement.initialStatistics: " + where
          + (cm == null ? " does not exist" : " is missing"));
    }
    RoutingStats stats = ModelStatistics.parse(bytes, "placement.initialStatistics (" + where + ")",
        layout.layers(), layout.experts());
    if (ModelStatistics.isEmpty(stats)) {
      throw new StatisticsUnavailableException("placement.initialStatistics: " + where + " counts no token");
    }
    return stats;
  }

  private void recordSolve(String ns, String name, ExpertPlacement target) {
    var report = target.getSpec().getReport();
    if (report != null && report.getSolveSeconds() != null) {
      metrics.solve(ns, name, report.getSolveSeconds());
    }
  }

  private static boolean fits(ExpertPlacement p, ModelLayout layout) {
    var map = p.getSpec().getPhysicalToLogicalMap();
    return p.getSpec().getSlotsPerGpu() == layout.cluster().slotsPerGpu() && map.size() == layout.layers()
        && map.getFirst().size() == layout.cluster().slots();
  }

  private static String describe(ExpertPlacement p) {
    var report = p.getSpec().getReport();
    return p.getMetadata().getName() + " placed" + (report == null || report.getBalancedness() == null ? ""
        : String.format(", predicted balancedness %.4f", report.getBalancedness()));
  }

  private static Duration min(Duration a, Duration b) {
    return a.compareTo(b) < 0 ? a : b;
  }
}

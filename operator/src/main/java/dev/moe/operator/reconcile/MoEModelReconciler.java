package dev.moe.operator.reconcile;

import dev.moe.crds.v1alpha1.Conditions;
import dev.moe.crds.v1alpha1.CurrentPlacement;
import dev.moe.crds.v1alpha1.Decision;
import dev.moe.crds.v1alpha1.ExpertPlacement;
import dev.moe.crds.v1alpha1.MoEModel;
import dev.moe.crds.v1alpha1.RebalanceDecision;
import dev.moe.crds.v1alpha1.RebalancingMode;
import dev.moe.crds.v1alpha1.WorkersStatus;
import dev.moe.operator.dependent.ApiServiceDependent;
import dev.moe.operator.dependent.StatsTokenSecretDependent;
import dev.moe.operator.dependent.WorkerRoleBindingDependent;
import dev.moe.operator.dependent.WorkerRoleDependent;
import dev.moe.operator.dependent.WorkerServiceAccountDependent;
import dev.moe.operator.dependent.WorkerServiceDependent;
import dev.moe.operator.dependent.WorkerNetworkPolicyDependent;
import dev.moe.operator.dependent.WorkerStatefulSetDependent;
import dev.moe.operator.dependent.WorkerTlsSecretDependent;
import dev.moe.operator.metrics.OperatorMetrics;
import dev.moe.operator.placement.InvalidModelException;
import dev.moe.operator.placement.ModelLayout;
import dev.moe.operator.placement.ModelRevisions;
import dev.moe.operator.placement.PlacementRevisions;
import dev.moe.operator.placement.RevisionExistsException;
import dev.moe.operator.placement.SurvivorPlanner;
import dev.moe.operator.rebalance.ChurnLedger;
import dev.moe.operator.rebalance.RebalanceDecider;
import dev.moe.operator.rebalance.RebalanceRules;
import dev.moe.operator.rollout.Rollout;
import dev.moe.operator.rollout.RolloutException;
import dev.moe.operator.rollout.WorkerPlacements;
import dev.moe.operator.serving.ApiProbe;
import dev.moe.operator.stats.ModelStatistics;
import dev.moe.operator.stats.StatisticsSource;
import dev.moe.operator.stats.StatisticsUnavailableException;
import dev.moe.operator.stats.StatisticsWindow;
import dev.moe.operator.stats.WindowFit;
import dev.moe.placement.Placement;
import dev.moe.placement.solve.PlacementSolver;
import dev.moe.stats.RoutingStats;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ConfigMapKeySelector;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.ControllerConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.ErrorStatusUpdateControl;
import io.javaoperatorsdk.operator.api.reconciler.Reconciler;
import io.javaoperatorsdk.operator.api.reconciler.UpdateControl;
import io.javaoperatorsdk.operator.api.reconciler.Workflow;
import io.javaoperatorsdk.operator.api.reconciler.dependent.Dependent;
import io.javaoperatorsdk.operator.processing.event.ResourceID;
import jakarta.inject.Inject;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;
import org.jboss.logging.Logger;

/**
 * Reconciles a MoEModel: the workers, their credentials and their API's Service (dependent
 * resources); then, in phases: the workers (ready pods, answering API), the target revision
 * (initial, re-planned after a spec change or a lost worker, pinned, or from a rebalance; only the
 * model's own revisions), its rollout (served once every worker reports it active; a worker that
 * serves another is handed it again), and the rebalance check (observation, decision). Everything
 * it decides is in the status, as Events and as metrics; state lives in the API server (the
 * ExpertPlacement revisions and the status), so a restarted operator resumes where it stopped.
 */
@Workflow(dependents = {
    @Dependent(type = WorkerServiceAccountDependent.class),
    @Dependent(type = WorkerRoleDependent.class),
    @Dependent(type = WorkerRoleBindingDependent.class),
    @Dependent(type = StatsTokenSecretDependent.class),
    @Dependent(type = WorkerTlsSecretDependent.class),
    @Dependent(type = WorkerNetworkPolicyDependent.class),
    @Dependent(type = WorkerServiceDependent.class),
    @Dependent(type = ApiServiceDependent.class),
    @Dependent(type = WorkerStatefulSetDependent.class)})
@ControllerConfiguration(name = MoEModelReconciler.NAME, fieldManager = MoEModelReconciler.FIELD_MANAGER)
public class MoEModelReconciler implements Reconciler<MoEModel> {

  public static final String NAME = "moemodel";
  /** The one field manager of everything the operator writes. */
  public static final String FIELD_MANAGER = "moe-operator";
  /** How often a model is looked at while nothing else happens: workers and statistics change silently. */
  static final Duration RECHECK = Duration.ofSeconds(30);
  /** How often a rollout is looked at: the workers switch within steps once they all hold the revision. */
  static final Duration ROLLING = Duration.ofSeconds(1);
  /** When to reconcile again after another write won: at the latest, the informer's event comes first. */
  static final Duration AGAIN = Duration.ofMillis(500);
  private static final Logger LOG = Logger.getLogger(MoEModelReconciler.class);

  private final StatisticsSource statistics;
  private final WorkerPlacements placements;
  private final ApiProbe api;
  private final OperatorMetrics metrics;
  private final Clock clock;

  @Inject
  public MoEModelReconciler(StatisticsSource statistics, WorkerPlacements placements, ApiProbe api,
      OperatorMetrics metrics, Clock clock) {
    this.statistics = statistics;
    this.placements = placements;
    this.api = api;
    this.metrics = metrics;
    this.clock = clock;
  }

  @Override
  public UpdateControl<MoEModel> reconcile(MoEModel model, Context<MoEModel> context) {
    KubernetesClient client = context.getClient();
    StatusWriter status = new StatusWriter(model, clock);
    status.status().setEndpoint(ApiServiceDependent.endpoint(model));
    forgetDeletedModels(context);
    weights(client, model, status);
    Duration next = RECHECK;
    try {
      next = reconcilePlacement(client, model, status, context.getSecondaryResource(StatefulSet.class).orElse(null));
    } catch (InvalidModelException e) {
      status.condition(Conditions.PLACEMENT_READY, false, Reasons.INVALID_SPEC, e.getMessage());
    } catch (StatisticsUnavailableException e) {
      status.condition(Conditions.PLACEMENT_READY, false, Reasons.STATISTICS_INVALID, e.getMessage());
    } catch (RevisionExistsException e) {
      return again(model, e.getMessage());
    }
    Optional<MoEModel> written = status.write(client);
    if (written.isEmpty()) {
      return again(model, "its status was written since this reconcile read it");
    }
    // The next reconcile starts from what was written, not from the informer's older copy.
    context.eventSourceRetriever().getControllerEventSource()
        .handleRecentResourceUpdate(ResourceID.fromResource(model), written.get(), model);
    return UpdateControl.<MoEModel>noUpdate().rescheduleAfter(next);
  }

  /** Another writer won: nothing of this pass is kept, the next starts from what it wrote. */
  private static UpdateControl<MoEModel> again(MoEModel model, String why) {
    LOG.infof("%s/%s: %s; reconciling again", model.getMetadata().getNamespace(), model.getMetadata().getName(), why);
    return UpdateControl.<MoEModel>noUpdate().rescheduleAfter(AGAIN);
  }

  /**
   * Drops the statistics history of models no longer in the informer's cache: deleted, which needs
   * no finalizer (the history is only an optimisation for the next window, not state to clean up).
   */
  private void forgetDeletedModels(Context<MoEModel> context) {
    statistics.retain(context.getPrimaryCache().list().map(m -> m.getMetadata().getUid()).collect(Collectors.toSet()));
  }

  @Override
  public ErrorStatusUpdateControl<MoEModel> updateErrorStatus(MoEModel model, Context<MoEModel> context, Exception e) {
    metrics.reconcileError(model.getMetadata().getNamespace(), model.getMetadata().getName());
    return ErrorStatusUpdateControl.noStatusUpdate();
  }

  /** @param statefulSet the workers' StatefulSet as the informer has it; null before it exists */
  private Duration reconcilePlacement(KubernetesClient client, MoEModel model, StatusWriter status,
      StatefulSet statefulSet) {
    ModelLayout layout = ModelLayout.of(model.getSpec());
    RebalanceRules rules = RebalanceRules.of(model.getSpec().getRebalancing(), layout.layers(), layout.cluster().slots());

    WorkerHealth health = workers(client, model, layout, statefulSet, status);
    api(model, status, health);
    // Lost means: all were ready at this size (a rejoining worker's pod is ready too) and the StatefulSet is
    // not restarting them onto a new template, or it was degraded already; a scale-up's new workers, and the
    // old ones it restarts with the new peers, are starting.
    boolean sameSize = Integer.valueOf(layout.workers()).equals(status.previousDesired());
    boolean wereReady = status.was(Conditions.WORKERS_READY)
        || status.had(Conditions.WORKERS_READY, Reasons.WORKER_REJOINING);
    boolean degraded = sameSize && !health.lost().isEmpty()
        && (wereReady && !health.rollingUpdate() || status.was(Conditions.DEGRADED));

    PlacementRevisions revisions = new PlacementRevisions(client);
    ModelRevisions known = revisions.read(model, layout.layers(), layout.experts());
    acceptRevisions(status, known);
    status.recordMissing(known.own().stream().flatMap(p -> revisions.decision(p).stream()).toList());
    Optional<ExpertPlacement> chosen = targetRevision(client, model, status, layout, rules, revisions, known);
    if (chosen.isEmpty()) {
      return RECHECK;
    }
    ExpertPlacement target = chosen.get();
    Placement placement = revisions.toPlacement(target, layout.experts());

    Set<Integer> lost = health.lost();
    ExpertPlacement followed = followWorkers(client, model, layout, rules, revisions, known, target, placement, health,
        degraded);
    if (followed != target) {
      target = followed;
      placement = revisions.toPlacement(target, layout.experts());
    }
    boolean covered = degraded && !SurvivorPlanner.orphansExperts(placement, layout, lost, layout.experts());
    status.condition(Conditions.DEGRADED, degraded, degraded ? Reasons.WORKER_LOST : Reasons.HEALTHY,
        !degraded ? "no worker lost" : "workers " + lost + " not ready" + (covered ? "; " + target.getMetadata().getName()
            + " serves every expert from the " + health.ready().size() + " left" : ""));

    Optional<Duration> rolling = rollout(model, status, target, placement, health, degraded);
    if (rolling.isPresent()) {
      return rolling.get();
    }
    status.condition(Conditions.REBALANCING, false, Reasons.IDLE, "serving " + target.getMetadata().getName());
    CurrentPlacement current = status.current();
    if (current.getPredictedBalancedness() != null) {
      // Also after a restart of the operator, which starts with no gauges.
      metrics.predictedBalancedness(model.getMetadata().getNamespace(), model.getMetadata().getName(),
          current.getPredictedBalancedness());
    }
    Long pinned = pinned(model);
    revisions.prune(known.own(), target.getSpec().getRevision(), pinned == null ? -1 : pinned);
    if (pinned != null || rules.mode() == RebalancingMode.Off || !health.allReady()) {
      return RECHECK;
    }
    return rebalance(client, model, status, layout, rules, revisions, placement, known.highest() + 1);
  }

  /**
   * The placement follows the workers: a worker lost re-plans onto the survivors if an expert lost
   * its last replica (serving on meanwhile); every worker ready again after that re-plans onto all of
   * them, as the survivors' plan leaves the returned ones idle. Returns the revision to serve.
   */
  private ExpertPlacement followWorkers(KubernetesClient client, MoEModel model, ModelLayout layout,
      RebalanceRules rules, PlacementRevisions revisions, ModelRevisions known, ExpertPlacement target,
      Placement placement, WorkerHealth health, boolean degraded) {
    if (pinned(model) != null) {
      return target;
    }
    long next = Math.max(known.highest(), target.getSpec().getRevision()) + 1;
    if (degraded && !health.ready().isEmpty()
        && SurvivorPlanner.orphansExperts(placement, layout, health.lost(), layout.experts())) {
      return revisions.create(model, next, SurvivorPlanner.plan(lastOrUniform(model, layout, rules), layout,
          health.lost()));
    }
    if (degraded || !health.allReady() || SurvivorPlanner.idleWorkers(placement, layout).isEmpty()) {
      return target;
    }
    Placement full = initialPlan(client, model, layout, true, rules);
    if (!SurvivorPlanner.idleWorkers(full, layout).isEmpty()) {
      return target;
    }
    ExpertPlacement created = revisions.create(model, next, full);
    EventRecorder.record(client, model, false, Reasons.WORKERS_BACK, "every worker is ready again: "
        + created.getMetadata().getName() + " places the experts on all " + layout.workers());
    return created;
  }

  /** The worker pods: how many are ready, for the status, the metrics and the scale subresource. */
  private WorkerHealth workers(KubernetesClient client, MoEModel model, ModelLayout layout, StatefulSet statefulSet,
      StatusWriter status) {
    WorkerHealth health = WorkerHealth.read(client, model, layout.workers(), statefulSet);
    WorkersStatus workers = new WorkersStatus();
    workers.setDesired(layout.workers());
    workers.setReady(health.ready().size());
    status.status().setWorkers(workers);
    metrics.reconciled(model.getMetadata().getNamespace(), model.getMetadata().getName(), workers.getReady(),
        workers.getDesired());
    status.status().setSelector(WorkerStatefulSetDependent.selector(model).entrySet().stream()
        .sorted(Map.Entry.comparingByKey()).map(e -> e.getKey() + "=" + e.getValue()).collect(Collectors.joining(",")));
    Optional<String> keyMissing = health.allReady() ? Optional.empty()
        : WorkerStatefulSetDependent.apiKeyMissing(client, model);
    status.condition(Conditions.WORKERS_READY, health.allReady(),
        health.allReady() ? Reasons.ALL_READY : keyMissing.isPresent() ? Reasons.API_KEY_MISSING : Reasons.WORKERS_STARTING,
        health.ready().size() + " of " + layout.workers() + " workers ready" + keyMissing.map(m -> ": " + m).orElse(""));
    return health;
  }

  /**
   * Whether the workers have fetched weights.uri (a PVC's weights need no fetch): a fetch that
   * fails shows on WeightsReady and Ready with the pod and the fetcher's message, which names the
   * URI, instead of a worker that crash-loops on a missing checkpoint.
   */
  private static void weights(KubernetesClient client, MoEModel model, StatusWriter status) {
    String uri = model.getSpec().getWeights().getUri();
    if (uri == null) {
      return;
    }
    WeightsFetch fetch = WeightsFetch.read(client, model, model.getSpec().getParallelism().getWorkers());
    if (fetch.failure() != null) {
      status.condition(Conditions.WEIGHTS_READY, false, Reasons.WEIGHTS_UNAVAILABLE, fetch.failure());
    } else if (fetch.fetched() == fetch.desired()) {
      status.condition(Conditions.WEIGHTS_READY, true, Reasons.WEIGHTS_FETCHED, "every worker has " + uri);
    } else {
      status.condition(Conditions.WEIGHTS_READY, false, Reasons.WEIGHTS_FETCHING, "fetching " + uri + ": "
          + fetch.fetched() + " of " + fetch.desired() + " workers have it");
    }
  }

  /** Whether the ready workers answer the OpenAI API, behind the model's Service: a ready pod may still not. */
  private void api(MoEModel model, StatusWriter status, WorkerHealth health) {
    String endpoint = ApiServiceDependent.endpoint(model);
    if (health.ready().isEmpty()) {
      status.condition(Conditions.API_READY, false, Reasons.NO_WORKER_READY, "no worker is ready to answer on "
          + endpoint);
      return;
    }
    Map<Integer, String> unanswered = api.unanswered(model, health.ready());
    if (unanswered.isEmpty()) {
      status.condition(Conditions.API_READY, true, Reasons.API_ANSWERING, health.ready().size()
          + " workers answer on " + endpoint);
    } else {
      var first = unanswered.entrySet().iterator().next();
      status.condition(Conditions.API_READY, false, Reasons.API_NOT_ANSWERING, "workers " + unanswered.keySet()
          + " do not answer GET /health on port " + ApiServiceDependent.PORT + " (" + first.getKey() + ": "
          + first.getValue() + ")");
    }
  }

  /** ExpertPlacements that carry the model's label but are not its own revisions are named, never served. */
  private static void acceptRevisions(StatusWriter status, ModelRevisions known) {
    if (known.refused().isEmpty()) {
      status.condition(Conditions.REVISIONS_ACCEPTED, true, Reasons.OWN_REVISIONS,
          "every ExpertPlacement labelled with the model is its own");
      return;
    }
    status.condition(Conditions.REVISIONS_ACCEPTED, false, Reasons.REVISION_REFUSED, known.refused().stream()
        .map(r -> "refused ExpertPlacement " + r.name() + ": " + r.why()).collect(Collectors.joining("; ")));
  }

  /**
   * The revision the workers should serve: the pinned one's placement, a first one for the spec,
   * or the newest; empty when the pinned revision cannot be served.
   */
  private Optional<ExpertPlacement> targetRevision(KubernetesClient client, MoEModel model, StatusWriter status,
      ModelLayout layout, RebalanceRules rules, PlacementRevisions revisions, ModelRevisions known) {
    Long pinned = pinned(model);
    ExpertPlacement newest = known.newest();
    long next = known.highest() + 1;
    ExpertPlacement target;
    if (pinned != null) {
      Optional<ExpertPlacement> found = PlacementRevisions.find(known.own(), pinned);
      if (found.isEmpty() || !fits(found.get(), layout)) {
        status.condition(Conditions.PLACEMENT_READY, false, Reasons.PINNED_REVISION_MISSING,
            "placement.pinnedRevision " + pinned + (found.isEmpty() ? " does not exist (kept: "
                + known.own().stream().map(p -> p.getSpec().getRevision().toString()).collect(Collectors.joining(", "))
                + ")" : " was made for another parallelism"));
        return Optional.empty();
      }
      target = rollback(client, model, revisions, found.get(), newest, next);
    } else if (newest == null || !fits(newest, layout)) {
      target = revisions.create(model, next, initialPlan(client, model, layout, status.current().getRolledOutAt() != null,
          rules));
      recordSolve(model.getMetadata().getNamespace(), model.getMetadata().getName(), target);
    } else {
      target = newest;
    }
    status.condition(Conditions.PLACEMENT_READY, true, Reasons.PLACED, describe(target));
    return Optional.of(target);
  }

  /**
   * The revision that serves the pinned one's placement: the newest, when it is the pinned one or
   * restores it; else a new one restoring it, since the workers switch only to a version newer than
   * any they have seen (and by then have freed the pinned one).
   */
  private static ExpertPlacement rollback(KubernetesClient client, MoEModel model, PlacementRevisions revisions,
      ExpertPlacement pinned, ExpertPlacement newest, long next) {
    long revision = pinned.getSpec().getRevision();
    if (newest.getSpec().getRevision() == revision || Long.valueOf(revision).equals(newest.getSpec().getRestores())) {
      return newest;
    }
    ExpertPlacement restoring = revisions.restore(model, next, pinned);
    EventRecorder.record(client, model, false, Reasons.ROLLBACK, "placement.pinnedRevision " + revision + ": "
        + restoring.getMetadata().getName() + " serves the placement of " + pinned.getMetadata().getName()
        + " again, as a revision newer than the workers have seen");
    return restoring;
  }

  /**
   * Hands the target revision to the workers, and the served one again to any worker that does
   * not serve it (a restarted worker starts on a placement of its own): empty once every worker
   * reports it active, else when to look again.
   */
  private Optional<Duration> rollout(MoEModel model, StatusWriter status, ExpertPlacement target, Placement placement,
      WorkerHealth health, boolean degraded) {
    String name = target.getMetadata().getName();
    boolean serving = name.equals(status.current().getRevision());
    // A healthy group switches together; a degraded one switches on the workers it has left.
    Set<Integer> workers = health.allReady() || degraded ? health.ready() : Set.of();
    if (workers.isEmpty()) {
      if (serving) {
        return Optional.empty();
      }
      status.condition(Conditions.REBALANCING, true, Reasons.ROLLING_OUT, "rolling out " + name
          + ": waiting for the workers (" + health.ready().size() + " of " + health.desired() + " ready)");
      return Optional.of(Duration.ofSeconds(5));
    }
    Rollout.Progress progress;
    try {
      progress = Rollout.advance(placements, model, target.getSpec().getRevision(), placement, workers);
    } catch (RolloutException e) {
      status.condition(Conditions.REBALANCING, false, Reasons.ROLLOUT_REFUSED, e.getMessage());
      return Optional.of(RECHECK);
    }
    if (progress.done()) {
      if (!serving) {
        served(model, status, target);
      }
      return serving ? Optional.empty() : Optional.of(Duration.ofSeconds(1));
    }
    status.status().setRollout(progress.status(name));
    if (serving) {
      status.condition(Conditions.WORKERS_READY, false, Reasons.WORKER_REJOINING, progress.laggards(name)
          + "; handing it to them again");
    } else {
      Long restores = target.getSpec().getRestores();
      status.condition(Conditions.REBALANCING, true, Reasons.ROLLING_OUT, "rolling out " + name
          + (restores == null ? "" : " (the placement of " + PlacementRevisions.name(model, restores) + ")") + ": "
          + progress.counts());
    }
    return Optional.of(ROLLING);
  }

  /** Every worker reports the target active: it is served from now on. */
  private void served(MoEModel model, StatusWriter status, ExpertPlacement target) {
    CurrentPlacement current = status.current();
    current.setRevision(target.getMetadata().getName());
    current.setRestores(target.getSpec().getRestores() == null ? null
        : PlacementRevisions.name(model, target.getSpec().getRestores()));
    current.setRolledOutAt(clock.instant().toString());
    current.setObservedBalancedness(null);
    current.setObservedAt(null);
    current.setObservedCoverage(null);
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
  }

  private Duration rebalance(KubernetesClient client, MoEModel model, StatusWriter status, ModelLayout layout, RebalanceRules rules,
      PlacementRevisions revisions, Placement placement, long nextRevision) {
    String ns = model.getMetadata().getNamespace();
    String name = model.getMetadata().getName();
    CurrentPlacement current = status.current();
    Instant now = clock.instant();
    ChurnLedger churn = churn(model, status, rules, now);
    Instant observedAt = current.getObservedAt() == null ? null : Instant.parse(current.getObservedAt());
    if (observedAt != null && now.isBefore(observedAt.plus(rules.minInterval()))) {
      return min(Duration.between(now, observedAt.plus(rules.minInterval())), RECHECK);
    }
    Optional<WindowFit> window;
    try {
      // The part after a routing shift part-way, if the window had one: what the traffic is now.
      window = statistics.window(model, rules.window()).map(WindowFit::of).map(f -> new WindowFit(new StatisticsWindow(
          ModelStatistics.fit(f.window().stats(), "the workers' statistics", layout.layers(), layout.experts()),
          f.window().coverage()), f.shift(), f.settled()));
    } catch (StatisticsUnavailableException e) {
      status.condition(Conditions.REBALANCING, false, Reasons.STATISTICS_UNAVAILABLE,
          "keeping " + current.getRevision() + ": " + e.getMessage());
      return RECHECK;
    }
    if (window.isEmpty() || ModelStatistics.isEmpty(window.get().window().stats())) {
      return min(rules.minInterval(), RECHECK);
    }
    WindowFit fit = window.get();
    Instant lastRebalance = status.lastTaken().map(d -> Instant.parse(d.getTime())).orElse(null);
    var outcome = fit.settled() ? RebalanceDecider.decide(rules, layout.options(), layout.cluster(), fit.window(),
        placement, lastRebalance, churn, now) : RebalanceDecider.hold(rules, layout.cluster(), fit.window(), placement,
        fit.shift());
    var coverage = fit.window().coverage();
    current.setObservedBalancedness(outcome.observed());
    current.setObservedAt(now.toString());
    current.setObservedCoverage(coverage.toStatus());
    metrics.observedBalancedness(ns, name, outcome.observed());
    metrics.statisticsCoverage(ns, name, coverage.tokenShare());
    if (outcome.verdict().isEmpty()) {
      return min(rules.minInterval(), RECHECK);
    }
    var verdict = outcome.verdict().get();
    // A plan was fitted on the part after a shift, or at least it was observed.
    String reason = verdict.reason() + (fit.settled() && fit.shift() != null
        ? (verdict.solveSeconds() > 0 ? "; fitted on " : "; observed on ") + fit.shift() : "");
    RebalanceDecision d = new RebalanceDecision();
    d.setTime(now.toString());
    d.setDecision(verdict.decision());
    d.setReason(reason);
    d.setObservedBalancedness(outcome.observed());
    d.setPredictedGain(verdict.predictedGain());
    d.setReplicasMoved(verdict.replicasMoved());
    d.setCoverage(coverage.toStatus());
    boolean taken = verdict.decision() == Decision.TAKEN;
    // The revision first, carrying its decision: the decision outlives a status write that fails.
    ExpertPlacement created = taken ? revisions.create(model, nextRevision, verdict.plan(), d) : null;
    status.decision(d);
    metrics.rebalance(ns, name, taken, verdict.replicasMoved());
    if (verdict.solveSeconds() > 0) {
      metrics.solve(ns, name, verdict.solveSeconds());
    }
    EventRecorder.record(client, model, false, taken ? "Rebalance" : "RebalanceDeclined",
        reason + String.format(" (observed %.4f, %d replicas; statistics of %s)", outcome.observed(),
            verdict.replicasMoved(), coverage.describe()));
    if (!taken) {
      return min(rules.minInterval(), RECHECK);
    }
    recordChurn(model, status, rules, churn.plus(now, verdict.replicasMoved()));
    status.condition(Conditions.REBALANCING, true, Reasons.ROLLING_OUT, "rolling out "
        + created.getMetadata().getName() + ": " + reason);
    return Duration.ofMillis(200);
  }

  /** The churn budget's use over the period up to {@code now}, in the status and the metrics. */
  private ChurnLedger churn(MoEModel model, StatusWriter status, RebalanceRules rules, Instant now) {
    ChurnLedger churn = ChurnLedger.of(status.status().getChurn(), rules.churn(), now);
    recordChurn(model, status, rules, churn);
    return churn;
  }

  private void recordChurn(MoEModel model, StatusWriter status, RebalanceRules rules, ChurnLedger churn) {
    status.status().setChurn(churn.toStatus(rules.churn()));
    metrics.churn(model.getMetadata().getNamespace(), model.getMetadata().getName(), churn.rebalances(),
        churn.replicasMoved(), rules.churn().maxRebalances(), rules.churn().maxReplicasMoved());
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
      Optional<StatisticsWindow> window = statistics.window(model, rules.window());
      if (window.isPresent()) {
        // The routing since a shift part-way, when an interval is known to be wholly after it.
        WindowFit fit = WindowFit.of(window.get());
        RoutingStats fitted = ModelStatistics.fit((fit.settled() ? fit.window() : window.get()).stats(),
            "the workers' statistics", layout.layers(), layout.experts());
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

  private static Long pinned(MoEModel model) {
    return model.getSpec().getPlacement() == null ? null : model.getSpec().getPlacement().getPinnedRevision();
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

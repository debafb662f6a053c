package dev.moe.operator.reconcile;

import dev.moe.crds.v1alpha1.ChurnStatus;
import dev.moe.crds.v1alpha1.Conditions;
import dev.moe.crds.v1alpha1.CurrentPlacement;
import dev.moe.crds.v1alpha1.Decision;
import dev.moe.crds.v1alpha1.MoEModel;
import dev.moe.crds.v1alpha1.MoEModelStatus;
import dev.moe.crds.v1alpha1.Phase;
import dev.moe.crds.v1alpha1.RebalanceDecision;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.ConditionBuilder;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import java.net.HttpURLConnection;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Builds a model's next status from its last one: conditions keep their transition time while
 * their status holds, every condition carries the generation it describes, and {@code Ready}
 * carries the reason of the first failing condition, and needs a revision served. A condition
 * that changes is also an Event; so is each new set of refused revisions. It is written only over
 * the version of the model it was built from, so two writers never overwrite each other's history.
 */
final class StatusWriter {

  private static final List<String> READINESS =
      List.of(Conditions.PLACEMENT_READY, Conditions.WEIGHTS_READY, Conditions.DEGRADED, Conditions.WORKERS_READY,
          Conditions.API_READY);

  private final MoEModel model;
  private final MoEModelStatus status;
  private final Clock clock;
  private final List<Condition> previous;
  private final List<Condition> conditions = new ArrayList<>();
  private final Integer previousDesired;

  StatusWriter(MoEModel model, Clock clock) {
    this.model = model;
    this.clock = clock;
    MoEModelStatus old = model.getStatus();
    this.previous = old == null || old.getConditions() == null ? List.of() : old.getConditions();
    // Conditions this pass does not look at (e.g. between two statistics checks) keep what they said.
    previous.stream().filter(c -> !Conditions.READY.equals(c.getType())).forEach(conditions::add);
    this.status = new MoEModelStatus();
    this.previousDesired = old == null || old.getWorkers() == null ? null : old.getWorkers().getDesired();
    if (old != null) {
      status.setCurrentPlacement(old.getCurrentPlacement());
      status.setRebalanceHistory(old.getRebalanceHistory());
      status.setChurn(old.getChurn());
    }
    status.setObservedGeneration(model.getMetadata().getGeneration());
  }

  /** Whether the condition was True in the status this reconcile started from. */
  boolean was(String type) {
    return previous.stream().anyMatch(c -> type.equals(c.getType()) && "True".equals(c.getStatus()));
  }

  /** Whether the condition had {@code reason} in the status this reconcile started from. */
  boolean had(String type, String reason) {
    return previous.stream().anyMatch(c -> type.equals(c.getType()) && reason.equals(c.getReason()));
  }

  /** The workers desired in the status this reconcile started from; null before the first. */
  Integer previousDesired() {
    return previousDesired;
  }

  MoEModelStatus status() {
    return status;
  }

  CurrentPlacement current() {
    if (status.getCurrentPlacement() == null) {
      status.setCurrentPlacement(new CurrentPlacement());
    }
    return status.getCurrentPlacement();
  }

  void condition(String type, boolean value, String reason, String message) {
    Condition before = previous.stream().filter(c -> type.equals(c.getType())).findFirst().orElse(null);
    String s = value ? "True" : "False";
    boolean same = before != null && s.equals(before.getStatus());
    conditions.removeIf(c -> type.equals(c.getType()));
    conditions.add(new ConditionBuilder().withType(type).withStatus(s).withReason(reason).withMessage(message)
        .withObservedGeneration(model.getMetadata().getGeneration())
        .withLastTransitionTime(same ? before.getLastTransitionTime() : clock.instant().toString()).build());
  }

  /**
   * Adds a decision to the history; a decline for the same reason as the last entry replaces it,
   * so steady traffic that keeps being declined does not push the taken decisions out.
   */
  void decision(RebalanceDecision d) {
    List<RebalanceDecision> history = new ArrayList<>(
        status.getRebalanceHistory() == null ? List.of() : status.getRebalanceHistory());
    if (!history.isEmpty() && d.getDecision() == Decision.DECLINED
        && history.getLast().getDecision() == Decision.DECLINED
        && kind(history.getLast().getReason()).equals(kind(d.getReason()))) {
      history.removeLast();
    }
    history.add(d);
    while (history.size() > MoEModelStatus.HISTORY) {
      history.removeFirst();
    }
    status.setRebalanceHistory(history);
  }

  /**
   * Records the decisions that made revisions ({@code made}) but are not in the history: the status
   * write that carried them was refused or never happened. One older than a full history's oldest
   * entry was pushed out of it, not lost.
   */
  void recordMissing(List<RebalanceDecision> made) {
    List<RebalanceDecision> history = new ArrayList<>(
        status.getRebalanceHistory() == null ? List.of() : status.getRebalanceHistory());
    Set<String> recorded = history.stream().map(RebalanceDecision::getTime).collect(Collectors.toSet());
    Instant oldest = history.size() < MoEModelStatus.HISTORY ? Instant.MIN : Instant.parse(history.getFirst().getTime());
    List<RebalanceDecision> missing = made.stream().filter(d -> !recorded.contains(d.getTime()))
        .filter(d -> Instant.parse(d.getTime()).isAfter(oldest)).toList();
    if (missing.isEmpty()) {
      return;
    }
    history.addAll(missing);
    history.sort(Comparator.comparing(d -> Instant.parse(d.getTime())));
    while (history.size() > MoEModelStatus.HISTORY) {
      history.removeFirst();
    }
    status.setRebalanceHistory(history);
    recordMissingChurn(missing);
  }

  /** A recovered rebalance counts against the churn budget too: a lost write must not refund it. */
  private void recordMissingChurn(List<RebalanceDecision> missing) {
    List<ChurnStatus.Rebalanced> recent = new ArrayList<>(
        status.getChurn() == null || status.getChurn().getRecent() == null ? List.of() : status.getChurn().getRecent());
    missing.stream().filter(d -> d.getDecision() == Decision.TAKEN).forEach(d -> recent.add(
        new ChurnStatus.Rebalanced(d.getTime(), d.getReplicasMoved() == null ? 0 : d.getReplicasMoved())));
    recent.sort(Comparator.comparing(r -> Instant.parse(r.getTime())));
    ChurnStatus churn = status.getChurn() == null ? new ChurnStatus() : status.getChurn();
    churn.setRecent(recent);
    status.setChurn(churn);
  }

  /** The last rebalance that was rolled out; the cool-down counts from it. */
  Optional<RebalanceDecision> lastTaken() {
    List<RebalanceDecision> history = status.getRebalanceHistory() == null ? List.of() : status.getRebalanceHistory();
    return history.reversed().stream().filter(d -> d.getDecision() == Decision.TAKEN).findFirst();
  }

  private static String kind(String reason) {
    int colon = reason.indexOf(':');
    return colon < 0 ? reason : reason.substring(0, colon);
  }

  /**
   * Writes the status over the version of the model this reconcile read, and only over it: when
   * anything wrote the model since (another replica, one that lost its lease, or this one's last
   * write that the informer has not delivered yet), the API server answers 409 Conflict and nothing
   * is written. Then an Event for each changed condition.
   *
   * @return the model as written; empty on a conflict, and the caller reconciles again from the newer version
   */
  Optional<MoEModel> write(KubernetesClient client) {
    MoEModel patch = new MoEModel();
    patch.setMetadata(new ObjectMetaBuilder().withName(model.getMetadata().getName())
        .withNamespace(model.getMetadata().getNamespace())
        .withResourceVersion(model.getMetadata().getResourceVersion()).build());
    patch.setStatus(finish());
    MoEModel written;
    try {
      written = client.resource(patch).subresource("status").patch(new PatchContext.Builder()
          .withPatchType(PatchType.SERVER_SIDE_APPLY).withFieldManager(MoEModelReconciler.FIELD_MANAGER).withForce(true)
          .build());
    } catch (KubernetesClientException e) {
      if (e.getCode() == HttpURLConnection.HTTP_CONFLICT) {
        return Optional.empty();
      }
      throw e;
    }
    recordEvents(client);
    return Optional.of(written);
  }

  /** Sets Ready and the phase from the other conditions. */
  private MoEModelStatus finish() {
    Condition failing = null;
    for (String type : READINESS) {
      Condition c = find(type);
      boolean bad = c != null && (Conditions.DEGRADED.equals(type) ? "True".equals(c.getStatus())
          : !"True".equals(c.getStatus()));
      if (bad && failing == null) {
        failing = c;
      }
    }
    if (failing == null && current().getRevision() == null) {
      // Placed and every worker up, but no revision served yet: the rollout says why.
      failing = Optional.ofNullable(find(Conditions.REBALANCING)).orElseGet(() -> new ConditionBuilder()
          .withReason(Reasons.ROLLING_OUT).withMessage("no placement served yet").build());
    }
    if (failing == null) {
      condition(Conditions.READY, true, "Serving", "all workers serve " + current().getRevision());
    } else {
      condition(Conditions.READY, false, failing.getReason(), failing.getMessage());
    }
    status.setPhase(phase());
    status.setConditions(List.copyOf(conditions));
    return status;
  }

  /** An Event for each condition that changed (Ready's reason is another condition's). */
  private void recordEvents(KubernetesClient client) {
    for (Condition c : conditions) {
      Condition before = previous.stream().filter(p -> c.getType().equals(p.getType())).findFirst().orElse(null);
      boolean changed = before == null || !Objects.equals(before.getStatus(), c.getStatus())
          || !Objects.equals(before.getReason(), c.getReason())
          // A revision refused while others are already: the message names it.
          || Conditions.REVISIONS_ACCEPTED.equals(c.getType()) && !Objects.equals(before.getMessage(), c.getMessage());
      if (changed && !Conditions.READY.equals(c.getType())) {
        EventRecorder.record(client, model, Reasons.WARNINGS.contains(c.getReason()), c.getReason(),
            c.getType() + ": " + c.getMessage());
      }
    }
  }

  private Phase phase() {
    if (is(Conditions.READY)) {
      return Phase.Running;
    }
    Condition placement = find(Conditions.PLACEMENT_READY);
    if (placement != null && Reasons.FAILED.contains(placement.getReason())) {
      return Phase.Failed;
    }
    if (is(Conditions.DEGRADED)) {
      return Phase.Degraded;
    }
    // Rolling out the first revision is part of starting; a later one is a rebalance.
    if (is(Conditions.REBALANCING) && status.getCurrentPlacement() != null
        && status.getCurrentPlacement().getRevision() != null) {
      return Phase.Rebalancing;
    }
    if (!is(Conditions.PLACEMENT_READY)) {
      return placement == null ? Phase.Pending : Phase.Placing;
    }
    return Phase.Starting;
  }

  private boolean is(String type) {
    Condition c = find(type);
    return c != null && "True".equals(c.getStatus());
  }

  private Condition find(String type) {
    return conditions.stream().filter(c -> type.equals(c.getType())).findFirst().orElse(null);
  }
}

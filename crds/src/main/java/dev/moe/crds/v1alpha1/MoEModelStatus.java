package dev.moe.crds.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Size;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.model.annotation.LabelSelector;
import java.util.List;

/** What the operator observed and did; written only through the status subresource. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class MoEModelStatus {

  @JsonPropertyDescription("The generation of the spec this status describes.")
  private Long observedGeneration;

  @JsonPropertyDescription("Where the model is in its life: Pending, Placing, Starting, Running, Rebalancing,"
      + " Degraded or Failed.")
  private Phase phase;

  @JsonPropertyDescription("Ready, PlacementReady, WorkersReady, ApiReady, Rebalancing, Degraded and"
      + " RevisionsAccepted; when not ready, the failing condition's reason shows on Ready.")
  private List<Condition> conditions;

  @JsonPropertyDescription("Worker pods ready and desired.")
  private WorkersStatus workers;

  @LabelSelector
  @JsonPropertyDescription("Label selector of the worker pods, for the scale subresource.")
  private String selector;

  @JsonPropertyDescription("The OpenAI-compatible API's base URL inside the cluster (the model's Service).")
  private String endpoint;

  @JsonPropertyDescription("The placement the workers serve.")
  private CurrentPlacement currentPlacement;

  @JsonPropertyDescription("The revision being handed to the workers, and how far they are; absent when none is.")
  private RolloutStatus rollout;

  @Size(max = MoEModelStatus.HISTORY)
  @JsonPropertyDescription("The last rebalance decisions, taken or declined, newest last.")
  private List<RebalanceDecision> rebalanceHistory;

  @JsonPropertyDescription("The churn budget's use: rebalances and replicas moved in the last period, and the"
      + " limits.")
  private ChurnStatus churn;

  /** How many decisions {@code rebalanceHistory} keeps. */
  public static final int HISTORY = 10;

  public Long getObservedGeneration() {
    return observedGeneration;
  }

  public void setObservedGeneration(Long observedGeneration) {
    this.observedGeneration = observedGeneration;
  }

  public Phase getPhase() {
    return phase;
  }

  public void setPhase(Phase phase) {
    this.phase = phase;
  }

  public List<Condition> getConditions() {
    return conditions;
  }

  public void setConditions(List<Condition> conditions) {
    this.conditions = conditions;
  }

  public WorkersStatus getWorkers() {
    return workers;
  }

  public void setWorkers(WorkersStatus workers) {
    this.workers = workers;
  }

  public String getSelector() {
    return selector;
  }

  public void setSelector(String selector) {
    this.selector = selector;
  }

  public String getEndpoint() {
    return endpoint;
  }

  public void setEndpoint(String endpoint) {
    this.endpoint = endpoint;
  }

  public CurrentPlacement getCurrentPlacement() {
    return currentPlacement;
  }

  public void setCurrentPlacement(CurrentPlacement currentPlacement) {
    this.currentPlacement = currentPlacement;
  }

  public RolloutStatus getRollout() {
    return rollout;
  }

  public void setRollout(RolloutStatus rollout) {
    this.rollout = rollout;
  }

  public List<RebalanceDecision> getRebalanceHistory() {
    return rebalanceHistory;
  }

  public void setRebalanceHistory(List<RebalanceDecision> rebalanceHistory) {
    this.rebalanceHistory = rebalanceHistory;
  }

  public ChurnStatus getChurn() {
    return churn;
  }

  public void setChurn(ChurnStatus churn) {
    this.churn = churn;
  }
}

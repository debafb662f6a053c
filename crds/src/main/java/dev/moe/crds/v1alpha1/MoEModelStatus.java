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

  @JsonPropertyDescription("Ready, PlacementReady, WorkersReady, Rebalancing and Degraded; when not ready, the"
      + " failing condition's reason shows on Ready.")
  private List<Condition> conditions;

  @JsonPropertyDescription("Worker pods ready and desired.")
  private WorkersStatus workers;

  @LabelSelector
  @JsonPropertyDescription("Label selector of the worker pods, for the scale subresource.")
  private String selector;

  @JsonPropertyDescription("The placement the workers serve.")
  private CurrentPlacement currentPlacement;

  @Size(max = MoEModelStatus.HISTORY)
  @JsonPropertyDescription("The last rebalance decisions, taken or declined, newest last.")
  private List<RebalanceDecision> rebalanceHistory;

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

  public CurrentPlacement getCurrentPlacement() {
    return currentPlacement;
  }

  public void setCurrentPlacement(CurrentPlacement currentPlacement) {
    this.currentPlacement = currentPlacement;
  }

  public List<RebalanceDecision> getRebalanceHistory() {
    return rebalanceHistory;
  }

  public void setRebalanceHistory(List<RebalanceDecision> rebalanceHistory) {
    this.rebalanceHistory = rebalanceHistory;
  }
}

package dev.moe.crds.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;

/** One rebalance decision, taken or declined. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class RebalanceDecision {

  @JsonPropertyDescription("When it was decided (RFC 3339).")
  private String time;

  @JsonPropertyDescription("taken or declined.")
  private Decision decision;

  @JsonPropertyDescription("Why, in a few words (e.g. GainBelowThreshold, CoolDown, Observe mode).")
  private String reason;

  @JsonPropertyDescription("Balancedness of the serving placement on the window the decision was made on.")
  private Double observedBalancedness;

  @JsonPropertyDescription("Predicted balancedness gain of the new plan over the current one.")
  private Double predictedGain;

  @JsonPropertyDescription("Expert replicas the new plan moves (or would have moved).")
  private Integer replicasMoved;

  @JsonPropertyDescription("How much of the traffic the window it was decided on saw.")
  private StatisticsCoverage coverage;

  public String getTime() {
    return time;
  }

  public void setTime(String time) {
    this.time = time;
  }

  public Double getObservedBalancedness() {
    return observedBalancedness;
  }

  public void setObservedBalancedness(Double observedBalancedness) {
    this.observedBalancedness = observedBalancedness;
  }

  public Decision getDecision() {
    return decision;
  }

  public void setDecision(Decision decision) {
    this.decision = decision;
  }

  public String getReason() {
    return reason;
  }

  public void setReason(String reason) {
    this.reason = reason;
  }

  public Double getPredictedGain() {
    return predictedGain;
  }

  public void setPredictedGain(Double predictedGain) {
    this.predictedGain = predictedGain;
  }

  public Integer getReplicasMoved() {
    return replicasMoved;
  }

  public void setReplicasMoved(Integer replicasMoved) {
    this.replicasMoved = replicasMoved;
  }

  public StatisticsCoverage getCoverage() {
    return coverage;
  }

  public void setCoverage(StatisticsCoverage coverage) {
    this.coverage = coverage;
  }
}

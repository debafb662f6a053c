package dev.moe.crds.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;

/** The placement revision the workers serve, and how good it is. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class CurrentPlacement {

  @JsonPropertyDescription("Name of the ExpertPlacement.")
  private String revision;

  @JsonPropertyDescription("The ExpertPlacement whose placement this revision serves again (a rollback by"
      + " placement.pinnedRevision); absent otherwise.")
  private String restores;

  @JsonPropertyDescription("Balancedness (mean / max GPU load, 0-1) the solver predicted on the statistics it"
      + " placed with.")
  private Double predictedBalancedness;

  @JsonPropertyDescription("Balancedness measured on the last statistics window; absent before the first.")
  private Double observedBalancedness;

  @JsonPropertyDescription("Expected share of token dispatches that leave their node.")
  private Double crossNodeFraction;

  @JsonPropertyDescription("1 - balancedness / the solver's proven bound: how far from optimal it may be.")
  private Double solverGap;

  @JsonPropertyDescription("When the workers switched to this placement (RFC 3339).")
  private String rolledOutAt;

  @JsonPropertyDescription("When observedBalancedness was last measured (RFC 3339); the next re-plan check is"
      + " rebalancing.minInterval after it.")
  private String observedAt;

  @JsonPropertyDescription("How much of the traffic the last window saw (workers counted, token share).")
  private StatisticsCoverage observedCoverage;

  public String getRevision() {
    return revision;
  }

  public void setRevision(String revision) {
    this.revision = revision;
  }

  public String getRestores() {
    return restores;
  }

  public void setRestores(String restores) {
    this.restores = restores;
  }

  public Double getPredictedBalancedness() {
    return predictedBalancedness;
  }

  public void setPredictedBalancedness(Double predictedBalancedness) {
    this.predictedBalancedness = predictedBalancedness;
  }

  public Double getObservedBalancedness() {
    return observedBalancedness;
  }

  public void setObservedBalancedness(Double observedBalancedness) {
    this.observedBalancedness = observedBalancedness;
  }

  public Double getCrossNodeFraction() {
    return crossNodeFraction;
  }

  public void setCrossNodeFraction(Double crossNodeFraction) {
    this.crossNodeFraction = crossNodeFraction;
  }

  public Double getSolverGap() {
    return solverGap;
  }

  public void setSolverGap(Double solverGap) {
    this.solverGap = solverGap;
  }

  public String getRolledOutAt() {
    return rolledOutAt;
  }

  public void setRolledOutAt(String rolledOutAt) {
    this.rolledOutAt = rolledOutAt;
  }

  public String getObservedAt() {
    return observedAt;
  }

  public void setObservedAt(String observedAt) {
    this.observedAt = observedAt;
  }

  public StatisticsCoverage getObservedCoverage() {
    return observedCoverage;
  }

  public void setObservedCoverage(StatisticsCoverage observedCoverage) {
    this.observedCoverage = observedCoverage;
  }
}

package dev.moe.crds.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;

/**
 * The solver's report, with the JSON names of placement-solver's {@code PlacementReport}. A value
 * the solver has not (NaN there) is absent here.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class PlacementReport {

  @JsonProperty("balancedness")
  @JsonPropertyDescription("Sum over layers of mean GPU load / sum over layers of max GPU load.")
  private Double balancedness;

  @JsonProperty("balancedness_bound")
  @JsonPropertyDescription("A proven upper bound on balancedness for this traffic and cluster.")
  private Double balancednessBound;

  @JsonProperty("gap")
  @JsonPropertyDescription("1 - balancedness / balancedness_bound.")
  private Double gap;

  @JsonProperty("cross_node_fraction")
  @JsonPropertyDescription("Expected share of token dispatches that leave their node.")
  private Double crossNodeFraction;

  @JsonProperty("cross_gpu_transition_fraction")
  @JsonPropertyDescription("Expected share of inter-layer transitions whose experts are on different GPUs.")
  private Double crossGpuTransitionFraction;

  @JsonProperty("replicas_moved")
  @JsonPropertyDescription("Replicas a GPU must fetch to go from the previous placement to this one.")
  private Integer replicasMoved;

  @JsonProperty("solve_seconds")
  @JsonPropertyDescription("Wall time of the solve.")
  private Double solveSeconds;

  @JsonProperty("target_balancedness")
  @JsonPropertyDescription("For a step of a re-plan path: the balancedness of the placement the path leads to.")
  private Double targetBalancedness;

  public Double getBalancedness() {
    return balancedness;
  }

  public void setBalancedness(Double balancedness) {
    this.balancedness = balancedness;
  }

  public Double getBalancednessBound() {
    return balancednessBound;
  }

  public void setBalancednessBound(Double balancednessBound) {
    this.balancednessBound = balancednessBound;
  }

  public Double getGap() {
    return gap;
  }

  public void setGap(Double gap) {
    this.gap = gap;
  }

  public Double getCrossNodeFraction() {
    return crossNodeFraction;
  }

  public void setCrossNodeFraction(Double crossNodeFraction) {
    this.crossNodeFraction = crossNodeFraction;
  }

  public Double getCrossGpuTransitionFraction() {
    return crossGpuTransitionFraction;
  }

  public void setCrossGpuTransitionFraction(Double crossGpuTransitionFraction) {
    this.crossGpuTransitionFraction = crossGpuTransitionFraction;
  }

  public Integer getReplicasMoved() {
    return replicasMoved;
  }

  public void setReplicasMoved(Integer replicasMoved) {
    this.replicasMoved = replicasMoved;
  }

  public Double getSolveSeconds() {
    return solveSeconds;
  }

  public void setSolveSeconds(Double solveSeconds) {
    this.solveSeconds = solveSeconds;
  }

  public Double getTargetBalancedness() {
    return targetBalancedness;
  }

  public void setTargetBalancedness(Double targetBalancedness) {
    this.targetBalancedness = targetBalancedness;
  }
}

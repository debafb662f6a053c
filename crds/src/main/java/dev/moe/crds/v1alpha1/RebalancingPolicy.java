package dev.moe.crds.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Size;
import io.fabric8.generator.annotation.ValidationRule;

/**
 * When the operator re-plans. Every {@code minInterval} it aggregates the last {@code
 * statisticsWindow} of statistics; when observed balancedness is below {@code
 * triggerBalancedness}, it asks the solver for a plan moving at most {@code moveBudget} replicas and
 * rolls it out only when the predicted gain is at least {@code minPredictedGain} and {@code
 * coolDown} has passed since the last rollout, the window's statistics cover at least {@code
 * minStatisticsCoverage} of the traffic, and the {@code churnBudget} has room for it.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class RebalancingPolicy {

  @JsonPropertyDescription("Auto: rebalance; Observe: decide and report, move nothing; Off: neither.")
  private RebalancingMode mode;

  @Size(max = PlacementPolicy.DURATION_LENGTH)
  @ValidationRule(value = PlacementPolicy.DURATION_RULE,
      message = "rebalancing.statisticsWindow" + PlacementPolicy.DURATION_MESSAGE, reason = "FieldValueInvalid")
  @JsonPropertyDescription("How much recent traffic the statistics cover, e.g. 10m.")
  private String statisticsWindow;

  @Size(max = PlacementPolicy.DURATION_LENGTH)
  @ValidationRule(value = PlacementPolicy.DURATION_RULE,
      message = "rebalancing.minInterval" + PlacementPolicy.DURATION_MESSAGE, reason = "FieldValueInvalid")
  @JsonPropertyDescription("Shortest time between two rebalance decisions, e.g. 5m.")
  private String minInterval;

  @Min(0)
  @Max(1)
  @JsonPropertyDescription("Re-plan only when observed balancedness falls below this (0-1).")
  private Double triggerBalancedness;

  @Min(0)
  @Max(1)
  @JsonPropertyDescription("Roll out a new placement only when it raises predicted balancedness by at least this (0-1).")
  private Double minPredictedGain;

  @Size(max = PlacementPolicy.DURATION_LENGTH)
  @ValidationRule(value = PlacementPolicy.DURATION_RULE,
      message = "rebalancing.coolDown" + PlacementPolicy.DURATION_MESSAGE, reason = "FieldValueInvalid")
  @JsonPropertyDescription("Shortest time between two rollouts, e.g. 30m.")
  private String coolDown;

  @Min(0)
  @JsonPropertyDescription("Most expert replicas one rebalance may move.")
  private Integer moveBudget;

  @Min(0)
  @Max(1)
  @JsonPropertyDescription("Rebalance only on a window whose answering workers counted at least this share of the"
      + " window's estimated tokens (0-1; default 0.75). A worker that does not answer is estimated at what it"
      + " counted in its last window.")
  private Double minStatisticsCoverage;

  @JsonPropertyDescription("Most rebalances and replicas moved per period, whatever the traffic does.")
  private ChurnBudget churnBudget;

  public RebalancingMode getMode() {
    return mode;
  }

  public void setMode(RebalancingMode mode) {
    this.mode = mode;
  }

  public String getStatisticsWindow() {
    return statisticsWindow;
  }

  public void setStatisticsWindow(String statisticsWindow) {
    this.statisticsWindow = statisticsWindow;
  }

  public String getMinInterval() {
    return minInterval;
  }

  public void setMinInterval(String minInterval) {
    this.minInterval = minInterval;
  }

  public Double getTriggerBalancedness() {
    return triggerBalancedness;
  }

  public void setTriggerBalancedness(Double triggerBalancedness) {
    this.triggerBalancedness = triggerBalancedness;
  }

  public Double getMinPredictedGain() {
    return minPredictedGain;
  }

  public void setMinPredictedGain(Double minPredictedGain) {
    this.minPredictedGain = minPredictedGain;
  }

  public String getCoolDown() {
    return coolDown;
  }

  public void setCoolDown(String coolDown) {
    this.coolDown = coolDown;
  }

  public Integer getMoveBudget() {
    return moveBudget;
  }

  public void setMoveBudget(Integer moveBudget) {
    this.moveBudget = moveBudget;
  }

  public Double getMinStatisticsCoverage() {
    return minStatisticsCoverage;
  }

  public void setMinStatisticsCoverage(Double minStatisticsCoverage) {
    this.minStatisticsCoverage = minStatisticsCoverage;
  }

  public ChurnBudget getChurnBudget() {
    return churnBudget;
  }

  public void setChurnBudget(ChurnBudget churnBudget) {
    this.churnBudget = churnBudget;
  }
}

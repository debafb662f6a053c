package dev.moe.crds.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Size;
import io.fabric8.generator.annotation.ValidationRule;

/**
 * How much rebalancing a period may hold, however the traffic moves: traffic that flips between
 * two expert sets every window gains from every re-plan, so the gain threshold alone would follow
 * it; the budget bounds the rollouts and the replicas they move in any sliding period.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class ChurnBudget {

  @Size(max = PlacementPolicy.DURATION_LENGTH)
  @ValidationRule(value = PlacementPolicy.DURATION_RULE,
      message = "rebalancing.churnBudget.period" + PlacementPolicy.DURATION_MESSAGE, reason = "FieldValueInvalid")
  @JsonPropertyDescription("The sliding period the budget covers, e.g. 1h (the default).")
  private String period;

  @Min(0)
  @Max(MAX_REBALANCES)
  @JsonPropertyDescription("Most rebalances rolled out in any period (default 4); 0 stops rebalancing.")
  private Integer maxRebalances;

  @Min(0)
  @JsonPropertyDescription("Most expert replicas moved by rebalances in any period (default twice the move"
      + " budget); a rebalance plans within what is left of it.")
  private Integer maxReplicasMoved;

  /** Bounds the rebalances the status keeps for the budget. */
  public static final int MAX_REBALANCES = 100;

  public String getPeriod() {
    return period;
  }

  public void setPeriod(String period) {
    this.period = period;
  }

  public Integer getMaxRebalances() {
    return maxRebalances;
  }

  public void setMaxRebalances(Integer maxRebalances) {
    this.maxRebalances = maxRebalances;
  }

  public Integer getMaxReplicasMoved() {
    return maxReplicasMoved;
  }

  public void setMaxReplicasMoved(Integer maxReplicasMoved) {
    this.maxReplicasMoved = maxReplicasMoved;
  }
}

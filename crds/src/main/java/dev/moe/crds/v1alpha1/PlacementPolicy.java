package dev.moe.crds.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Size;
import io.fabric8.generator.annotation.ValidationRule;

/**
 * The solver's objective and limits. It maximises balancedness minus the weighted penalties below;
 * absent weights take the solver's defaults.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class PlacementPolicy {

  /**
   * A Go-style duration: one or more number-unit pairs, e.g. 30s, 1m30s, 500ms, 2h. A CEL rule
   * rather than a pattern, so that kubectl prints what to write instead of the regular expression.
   */
  static final String DURATION_RULE = "self.matches('^([0-9]+([.][0-9]+)?(ms|s|m|h))+$')";
  /** Follows the field's name in the message of {@link #DURATION_RULE}. */
  static final String DURATION_MESSAGE =
      " must be a duration such as 30s, 5m, 1h30m or 500ms: numbers each followed by a unit, h, m, s or ms";
  /** Bounds the cost of the rule; no sensible duration is longer. */
  static final long DURATION_LENGTH = 32;

  @Min(0)
  @Max(100)
  @JsonPropertyDescription("Weight of the share of token dispatches that cross nodes.")
  private Double crossNodeWeight;

  @Min(0)
  @Max(100)
  @JsonPropertyDescription("Weight of keeping experts that are used one after another on the same GPU.")
  private Double affinityWeight;

  @Min(0)
  @Max(100)
  @JsonPropertyDescription("Weight of the replicas a new placement moves from the current one.")
  private Double migrationWeight;

  @Size(max = DURATION_LENGTH)
  @ValidationRule(value = DURATION_RULE, message = "placement.timeLimit" + DURATION_MESSAGE,
      reason = "FieldValueInvalid")
  @JsonPropertyDescription("Wall-time limit of one solve, e.g. 30s; the best placement found so far is used.")
  private String timeLimit;

  @JsonPropertyDescription("Expert statistics to place the first revision with; absent means round-robin.")
  private InitialStatistics initialStatistics;

  @Min(1)
  @JsonPropertyDescription("Serve this ExpertPlacement revision and pause rebalancing (a rollback is this one field);"
      + " remove it to resume.")
  private Long pinnedRevision;

  public Double getCrossNodeWeight() {
    return crossNodeWeight;
  }

  public void setCrossNodeWeight(Double crossNodeWeight) {
    this.crossNodeWeight = crossNodeWeight;
  }

  public Double getAffinityWeight() {
    return affinityWeight;
  }

  public void setAffinityWeight(Double affinityWeight) {
    this.affinityWeight = affinityWeight;
  }

  public Double getMigrationWeight() {
    return migrationWeight;
  }

  public void setMigrationWeight(Double migrationWeight) {
    this.migrationWeight = migrationWeight;
  }

  public String getTimeLimit() {
    return timeLimit;
  }

  public void setTimeLimit(String timeLimit) {
    this.timeLimit = timeLimit;
  }

  public InitialStatistics getInitialStatistics() {
    return initialStatistics;
  }

  public void setInitialStatistics(InitialStatistics initialStatistics) {
    this.initialStatistics = initialStatistics;
  }

  public Long getPinnedRevision() {
    return pinnedRevision;
  }

  public void setPinnedRevision(Long pinnedRevision) {
    this.pinnedRevision = pinnedRevision;
  }
}

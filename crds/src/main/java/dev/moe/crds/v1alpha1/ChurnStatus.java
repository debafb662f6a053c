package dev.moe.crds.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Size;
import java.util.List;

/** How much of the churn budget the last period used: the rebalances rolled out in it, and the limits. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class ChurnStatus {

  @JsonPropertyDescription("The sliding period the budget covers (rebalancing.churnBudget.period).")
  private String period;

  @JsonPropertyDescription("Rebalances rolled out in the last period.")
  private Integer rebalances;

  @JsonPropertyDescription("Expert replicas those rebalances moved.")
  private Integer replicasMoved;

  @JsonPropertyDescription("The most rebalances a period may hold.")
  private Integer maxRebalances;

  @JsonPropertyDescription("The most replicas a period's rebalances may move.")
  private Integer maxReplicasMoved;

  @Size(max = ChurnBudget.MAX_REBALANCES)
  @JsonPropertyDescription("The rebalances of the last period, oldest first: what the budget counts.")
  private List<Rebalanced> recent;

  /** One rebalance the budget counts. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class Rebalanced {

    @JsonPropertyDescription("When it was decided (RFC 3339).")
    private String time;

    @JsonPropertyDescription("Expert replicas it moved.")
    private Integer replicasMoved;

    public Rebalanced() {}

    public Rebalanced(String time, Integer replicasMoved) {
      this.time = time;
      this.replicasMoved = replicasMoved;
    }

    public String getTime() {
      return time;
    }

    public void setTime(String time) {
      this.time = time;
    }

    public Integer getReplicasMoved() {
      return replicasMoved;
    }

    public void setReplicasMoved(Integer replicasMoved) {
      this.replicasMoved = replicasMoved;
    }
  }

  public String getPeriod() {
    return period;
  }

  public void setPeriod(String period) {
    this.period = period;
  }

  public Integer getRebalances() {
    return rebalances;
  }

  public void setRebalances(Integer rebalances) {
    this.rebalances = rebalances;
  }

  public Integer getReplicasMoved() {
    return replicasMoved;
  }

  public void setReplicasMoved(Integer replicasMoved) {
    this.replicasMoved = replicasMoved;
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

  public List<Rebalanced> getRecent() {
    return recent;
  }

  public void setRecent(List<Rebalanced> recent) {
    this.recent = recent;
  }
}

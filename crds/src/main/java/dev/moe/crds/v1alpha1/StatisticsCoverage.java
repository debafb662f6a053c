package dev.moe.crds.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;

/**
 * How much of the traffic a statistics window saw: a worker that does not answer (or has no
 * counts from the window's start) is left out of the window rather than failing it.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class StatisticsCoverage {

  @JsonPropertyDescription("Workers whose counts the window holds.")
  private Integer workersCounted;

  @JsonPropertyDescription("Worker pods the window was read from.")
  private Integer workers;

  @JsonPropertyDescription("Share of the window's estimated tokens the counted workers saw (0-1); a worker left"
      + " out is estimated at what it counted in its last window, or at the counted workers' mean.")
  private Double tokenShare;

  @JsonPropertyDescription("The workers left out, and why (the first few).")
  private String missing;

  public Integer getWorkersCounted() {
    return workersCounted;
  }

  public void setWorkersCounted(Integer workersCounted) {
    this.workersCounted = workersCounted;
  }

  public Integer getWorkers() {
    return workers;
  }

  public void setWorkers(Integer workers) {
    this.workers = workers;
  }

  public Double getTokenShare() {
    return tokenShare;
  }

  public void setTokenShare(Double tokenShare) {
    this.tokenShare = tokenShare;
  }

  public String getMissing() {
    return missing;
  }

  public void setMissing(String missing) {
    this.missing = missing;
  }
}

package dev.moe.crds.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;

/**
 * A revision on its way to the workers: each stages it beside the served one, then the group
 * switches to it at once; it is served when every worker reports it active.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class RolloutStatus {

  @JsonPropertyDescription("Name of the ExpertPlacement being rolled out.")
  private String revision;

  @JsonPropertyDescription("Workers it goes to: all of them, or those left when workers are lost.")
  private Integer workers;

  @JsonPropertyDescription("Workers that have it staged or active.")
  private Integer staged;

  @JsonPropertyDescription("Workers that serve it.")
  private Integer active;

  public String getRevision() {
    return revision;
  }

  public void setRevision(String revision) {
    this.revision = revision;
  }

  public Integer getWorkers() {
    return workers;
  }

  public void setWorkers(Integer workers) {
    this.workers = workers;
  }

  public Integer getStaged() {
    return staged;
  }

  public void setStaged(Integer staged) {
    this.staged = staged;
  }

  public Integer getActive() {
    return active;
  }

  public void setActive(Integer active) {
    this.active = active;
  }
}

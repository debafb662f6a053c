package dev.moe.crds.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.kubernetes.model.annotation.StatusReplicas;

/** Worker pods. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class WorkersStatus {

  @JsonPropertyDescription("Worker pods that are ready.")
  private Integer ready;

  @StatusReplicas
  @JsonPropertyDescription("Worker pods the operator runs (spec.parallelism.workers once applied); the scale"
      + " subresource's status replicas.")
  private Integer desired;

  public Integer getReady() {
    return ready;
  }

  public void setReady(Integer ready) {
    this.ready = ready;
  }

  public Integer getDesired() {
    return desired;
  }

  public void setDesired(Integer desired) {
    this.desired = desired;
  }
}

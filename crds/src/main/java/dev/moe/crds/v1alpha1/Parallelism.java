package dev.moe.crds.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.ValidationRule;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.model.annotation.SpecReplicas;

/**
 * How the model is spread: {@code workers} pods of {@code gpusPerWorker} GPUs each, and how many
 * expert slots each GPU has, stated directly ({@code slotsPerGpu}) or derived by the operator from
 * the memory each GPU gives to experts ({@code gpuMemory}).
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
@ValidationRule(value = "has(self.slotsPerGpu) != has(self.gpuMemory)",
    message = "parallelism needs exactly one of slotsPerGpu (expert slots on each GPU) or gpuMemory (memory each GPU gives"
        + " to experts, from which the operator derives the slots)",
    reason = "FieldValueInvalid")
@ValidationRule(value = "!has(self.gpusPerNode) || (self.workers * self.gpusPerWorker) % self.gpusPerNode == 0",
    message = "parallelism.gpusPerNode must divide the total GPUs (workers x gpusPerWorker): the workers fill whole nodes",
    fieldPath = ".gpusPerNode", reason = "FieldValueInvalid")
public class Parallelism {

  @SpecReplicas
  @Required
  @Min(1)
  @Max(4096)
  @JsonPropertyDescription("Number of worker pods; the scale subresource's replicas.")
  private Integer workers;

  @Required
  @Min(1)
  @Max(64)
  @JsonPropertyDescription("GPUs of each worker pod.")
  private Integer gpusPerWorker;

  @Min(1)
  @Max(64)
  @JsonPropertyDescription("GPUs of each node, for the solver's cross-node cost; absent means one worker per node"
      + " (gpusPerWorker).")
  private Integer gpusPerNode;

  @Min(1)
  @Max(4096)
  @JsonPropertyDescription("Expert slots on each GPU (routed experts plus redundant replicas). Exactly one of"
      + " slotsPerGpu or gpuMemory.")
  private Integer slotsPerGpu;

  // A Quantity schema is int-or-string with no format check of its own: "forty gigs" would pass.
  @ValidationRule(value = "type(self) == int ? self > 0"
      + " : isQuantity(self) && quantity(self).isGreaterThan(quantity('0'))",
      message = "parallelism.gpuMemory must be a positive amount of memory, such as 40Gi or 80G",
      reason = "FieldValueInvalid")
  @JsonPropertyDescription("Memory each GPU gives to routed experts (e.g. 40Gi); the operator derives the slots per"
      + " GPU from it and the model's expert size. Exactly one of slotsPerGpu or gpuMemory.")
  private Quantity gpuMemory;

  public Integer getWorkers() {
    return workers;
  }

  public void setWorkers(Integer workers) {
    this.workers = workers;
  }

  public Integer getGpusPerWorker() {
    return gpusPerWorker;
  }

  public void setGpusPerWorker(Integer gpusPerWorker) {
    this.gpusPerWorker = gpusPerWorker;
  }

  public Integer getGpusPerNode() {
    return gpusPerNode;
  }

  public void setGpusPerNode(Integer gpusPerNode) {
    this.gpusPerNode = gpusPerNode;
  }

  public Integer getSlotsPerGpu() {
    return slotsPerGpu;
  }

  public void setSlotsPerGpu(Integer slotsPerGpu) {
    this.slotsPerGpu = slotsPerGpu;
  }

  public Quantity getGpuMemory() {
    return gpuMemory;
  }

  public void setGpuMemory(Quantity gpuMemory) {
    this.gpuMemory = gpuMemory;
  }
}

package dev.moe.crds.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.ValidationRule;
import java.util.List;
import java.util.Set;

/**
 * A placement: the fields after {@code model}, {@code revision} and {@code restores} have the JSON
 * names of placement-solver's {@code dev.moe.placement.PlacementJson}, so a placement file is this
 * spec minus those three.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class ExpertPlacementSpec {

  /** The fields that are not the placement file's. */
  public static final Set<String> OTHER_FIELDS = Set.of("model", "revision", "restores");


  @Required
  @ValidationRule(value = "self == oldSelf",
      message = "an ExpertPlacement's model cannot change; create a new ExpertPlacement for the other model",
      reason = "FieldValueForbidden")
  @JsonPropertyDescription("The MoEModel (same namespace) this placement belongs to.")
  private ModelReference model;

  @Required
  @Min(1)
  @ValidationRule(value = "self == oldSelf", message = "an ExpertPlacement's revision cannot change; create a new one",
      reason = "FieldValueForbidden")
  @JsonPropertyDescription("Revision number, counting from 1 per model.")
  private Long revision;

  @Min(1)
  @ValidationRule(value = "self == oldSelf", message = "an ExpertPlacement's restores cannot change",
      reason = "FieldValueForbidden")
  @JsonPropertyDescription("The earlier revision whose placement this one serves again: a rollback by the model's"
      + " placement.pinnedRevision, staged under a new revision because the workers had freed the old one.")
  private Long restores;

  @Required
  @JsonProperty("physical_to_logical_map")
  @JsonPropertyDescription("[layers][slots] logical expert index of each physical slot; slot s lives on GPU"
      + " s / slots_per_gpu (SGLang's physical_to_logical_map).")
  private List<List<Integer>> physicalToLogicalMap;

  @JsonProperty("replica_shares")
  @JsonPropertyDescription("[layers][slots] fraction of its expert's tokens each slot serves; the shares of one"
      + " expert's slots sum to 1. Absent: even shares.")
  private List<List<Double>> replicaShares;

  @Required
  @Min(1)
  @JsonProperty("slots_per_gpu")
  @JsonPropertyDescription("Expert slots on each GPU.")
  private Integer slotsPerGpu;

  @JsonProperty("report")
  @JsonPropertyDescription("What the solver predicts this placement achieves.")
  private PlacementReport report;

  public ModelReference getModel() {
    return model;
  }

  public void setModel(ModelReference model) {
    this.model = model;
  }

  public Long getRevision() {
    return revision;
  }

  public void setRevision(Long revision) {
    this.revision = revision;
  }

  public Long getRestores() {
    return restores;
  }

  public void setRestores(Long restores) {
    this.restores = restores;
  }

  public List<List<Integer>> getPhysicalToLogicalMap() {
    return physicalToLogicalMap;
  }

  public void setPhysicalToLogicalMap(List<List<Integer>> physicalToLogicalMap) {
    this.physicalToLogicalMap = physicalToLogicalMap;
  }

  public List<List<Double>> getReplicaShares() {
    return replicaShares;
  }

  public void setReplicaShares(List<List<Double>> replicaShares) {
    this.replicaShares = replicaShares;
  }

  public Integer getSlotsPerGpu() {
    return slotsPerGpu;
  }

  public void setSlotsPerGpu(Integer slotsPerGpu) {
    this.slotsPerGpu = slotsPerGpu;
  }

  public PlacementReport getReport() {
    return report;
  }

  public void setReport(PlacementReport report) {
    this.report = report;
  }
}

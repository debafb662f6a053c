package dev.moe.crds.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.ValidationRule;

/** The shape of a Mixture-of-Experts model, as far as placing its experts needs it. */
@JsonInclude(JsonInclude.Include.NON_NULL)
@ValidationRule(value = "self.topK <= self.expertsPerLayer",
    message = "model.topK (experts each token is routed to) must not exceed model.expertsPerLayer",
    fieldPath = ".topK", reason = "FieldValueInvalid")
// expertGroups == 0 is refused by its minimum; the guard keeps "modulus by zero" from the user.
@ValidationRule(value = "!has(self.expertGroups) || self.expertGroups == 0"
    + " || self.expertsPerLayer % self.expertGroups == 0",
    message = "model.expertsPerLayer must be divisible by model.expertGroups: every group holds the same number of experts",
    fieldPath = ".expertGroups", reason = "FieldValueInvalid")
@ValidationRule(value = "!has(self.topkGroups) || (has(self.expertGroups) && self.topkGroups <= self.expertGroups)",
    message = "model.topkGroups (groups each token may be routed to) needs model.expertGroups and must not exceed it",
    fieldPath = ".topkGroups", reason = "FieldValueInvalid")
// Silent when topK exceeds all the experts, which the first rule reports.
@ValidationRule(value = "!has(self.topkGroups) || !has(self.expertGroups) || self.expertGroups == 0"
    + " || self.topK > self.expertsPerLayer"
    + " || self.topK <= self.topkGroups * (self.expertsPerLayer / self.expertGroups)",
    message = "model.topK must not exceed the experts of model.topkGroups groups (topkGroups x expertsPerLayer"
        + " / expertGroups): a token cannot be routed to more experts than its groups hold; raise topkGroups or"
        + " lower topK",
    fieldPath = ".topK", reason = "FieldValueInvalid")
public class ModelShape {

  @Required
  @Min(1)
  @Max(1024)
  @JsonPropertyDescription("Number of MoE layers.")
  private Integer moeLayers;

  @Required
  @Min(1)
  @Max(65536)
  @JsonPropertyDescription("Routed experts in each MoE layer.")
  private Integer expertsPerLayer;

  @Required
  @Min(1)
  @Max(1024)
  @JsonPropertyDescription("Experts each token is routed to.")
  private Integer topK;

  @Min(1)
  @Max(65536)
  @JsonPropertyDescription("Expert groups for group-limited routing; absent when routing is not grouped.")
  private Integer expertGroups;

  @Min(1)
  @Max(65536)
  @JsonPropertyDescription("Groups each token may be routed to (group-limited routing); needs expertGroups.")
  private Integer topkGroups;

  @Min(0)
  @Max(1024)
  @JsonPropertyDescription("Shared experts, which every token uses and every GPU holds; 0 when absent.")
  private Integer sharedExperts;

  @Required
  @Min(1)
  @JsonPropertyDescription("Hidden size of the model.")
  private Integer hiddenSize;

  @Required
  @Min(1)
  @JsonPropertyDescription("Intermediate size of one expert.")
  private Integer expertIntermediateSize;

  @Required
  @JsonPropertyDescription("Data type of the expert weights.")
  private Dtype dtype;

  public Integer getMoeLayers() {
    return moeLayers;
  }

  public void setMoeLayers(Integer moeLayers) {
    this.moeLayers = moeLayers;
  }

  public Integer getExpertsPerLayer() {
    return expertsPerLayer;
  }

  public void setExpertsPerLayer(Integer expertsPerLayer) {
    this.expertsPerLayer = expertsPerLayer;
  }

  public Integer getTopK() {
    return topK;
  }

  public void setTopK(Integer topK) {
    this.topK = topK;
  }

  public Integer getExpertGroups() {
    return expertGroups;
  }

  public void setExpertGroups(Integer expertGroups) {
    this.expertGroups = expertGroups;
  }

  public Integer getTopkGroups() {
    return topkGroups;
  }

  public void setTopkGroups(Integer topkGroups) {
    this.topkGroups = topkGroups;
  }

  public Integer getSharedExperts() {
    return sharedExperts;
  }

  public void setSharedExperts(Integer sharedExperts) {
    this.sharedExperts = sharedExperts;
  }

  public Integer getHiddenSize() {
    return hiddenSize;
  }

  public void setHiddenSize(Integer hiddenSize) {
    this.hiddenSize = hiddenSize;
  }

  public Integer getExpertIntermediateSize() {
    return expertIntermediateSize;
  }

  public void setExpertIntermediateSize(Integer expertIntermediateSize) {
    this.expertIntermediateSize = expertIntermediateSize;
  }

  public Dtype getDtype() {
    return dtype;
  }

  public void setDtype(Dtype dtype) {
    this.dtype = dtype;
  }
}

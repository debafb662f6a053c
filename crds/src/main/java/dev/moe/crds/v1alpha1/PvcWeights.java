package dev.moe.crds.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.Size;
import io.fabric8.generator.annotation.ValidationRule;

/** Weights on a PersistentVolumeClaim in the model's namespace. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class PvcWeights {

  @Required
  @Size(max = 253)
  @ValidationRule(value = "self.matches('^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$')",
      message = "weights.pvc.claimName must be a PersistentVolumeClaim's name: lower-case letters, digits, '-' and '.',"
          + " starting and ending with a letter or digit",
      reason = "FieldValueInvalid")
  @JsonPropertyDescription("Name of the PersistentVolumeClaim.")
  private String claimName;

  @Required
  @Size(max = 4096)
  @ValidationRule(value = "self != '' && !self.contains('\\u0000')",
      message = "weights.pvc.path must be the path of the weights inside the volume, e.g. /models/small",
      reason = "FieldValueInvalid")
  @JsonPropertyDescription("Path of the weights inside the volume.")
  private String path;

  public String getClaimName() {
    return claimName;
  }

  public void setClaimName(String claimName) {
    this.claimName = claimName;
  }

  public String getPath() {
    return path;
  }

  public void setPath(String path) {
    this.path = path;
  }
}

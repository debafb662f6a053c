package dev.moe.crds.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Size;
import io.fabric8.generator.annotation.ValidationRule;

/** Where the weights are: exactly one of a path on a PVC or a URI. */
@JsonInclude(JsonInclude.Include.NON_NULL)
@ValidationRule(value = "has(self.pvc) != has(self.uri)",
    message = "weights needs exactly one of weights.pvc (a PersistentVolumeClaim and a path on it) or weights.uri",
    reason = "FieldValueInvalid")
public class Weights {

  @JsonPropertyDescription("A PersistentVolumeClaim and the path of the weights on it.")
  private PvcWeights pvc;

  @Size(max = 2048)
  @ValidationRule(value = "self.matches('^[a-zA-Z][a-zA-Z0-9+.-]*://.+$')",
      message = "weights.uri must be a URI with a scheme, such as hf://org/model, s3://bucket/path or"
          + " https://host/path",
      reason = "FieldValueInvalid")
  @JsonPropertyDescription("A URI the workers fetch the weights from, e.g. hf://org/model or s3://bucket/path.")
  private String uri;

  public PvcWeights getPvc() {
    return pvc;
  }

  public void setPvc(PvcWeights pvc) {
    this.pvc = pvc;
  }

  public String getUri() {
    return uri;
  }

  public void setUri(String uri) {
    this.uri = uri;
  }
}

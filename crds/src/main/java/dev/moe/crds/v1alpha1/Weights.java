package dev.moe.crds.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Size;
import io.fabric8.generator.annotation.ValidationRule;

/**
 * Where the weights are: exactly one of a path on a PVC or a URI. A URI is fetched by the workers'
 * init container (worker-runtime fetch-weights) with the credentials of {@link #credentialsSecret}.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
@ValidationRule(value = "has(self.pvc) != has(self.uri)",
    message = "weights needs exactly one of weights.pvc (a PersistentVolumeClaim and a path on it) or weights.uri",
    reason = "FieldValueInvalid")
@ValidationRule(value = "!has(self.pvc) || !(has(self.credentialsSecret) || has(self.s3Endpoint) || has(self.s3Region))",
    message = "weights.credentialsSecret, weights.s3Endpoint and weights.s3Region are for fetching weights.uri, not for"
        + " weights.pvc",
    reason = "FieldValueInvalid")
public class Weights {

  @JsonPropertyDescription("A PersistentVolumeClaim and the path of the weights on it.")
  private PvcWeights pvc;

  @Size(max = 2048)
  @ValidationRule(value = "self.matches('^[a-zA-Z][a-zA-Z0-9+.-]*://.+$')",
      message = "weights.uri must be a URI with a scheme, such as hf://org/model, s3://bucket/path or"
          + " https://host/path",
      reason = "FieldValueInvalid")
  @JsonPropertyDescription("A URI the workers' init container fetches the weights from before they start:"
      + " s3://bucket/prefix (every object under it), https://host/path/ (a Hugging Face-style directory) or"
      + " hf://org/model.")
  private String uri;

  @Size(max = 253)
  @ValidationRule(value = "self.matches('^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$')",
      message = "weights.credentialsSecret must be a Secret's name: lower-case letters, digits, '-' and '.',"
          + " starting and ending with a letter or digit",
      reason = "FieldValueInvalid")
  @JsonPropertyDescription("A Secret in the model's namespace whose keys become the fetch's environment:"
      + " AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and, for temporary credentials, AWS_SESSION_TOKEN.")
  private String credentialsSecret;

  @Size(max = 2048)
  @ValidationRule(value = "self.matches('^https?://[^/?#]+(/[^?#]*)?$')",
      message = "weights.s3Endpoint must be an http:// or https:// URL of an S3-compatible server, e.g."
          + " https://minio.storage.svc:9000",
      reason = "FieldValueInvalid")
  @JsonPropertyDescription("An S3-compatible server (addressed path-style) for an s3:// URI; unset: AWS.")
  private String s3Endpoint;

  @Size(max = 64)
  @Pattern("^[a-z0-9-]+$")
  @JsonPropertyDescription("The region S3 requests are signed for (default us-east-1).")
  private String s3Region;

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

  public String getCredentialsSecret() {
    return credentialsSecret;
  }

  public void setCredentialsSecret(String credentialsSecret) {
    this.credentialsSecret = credentialsSecret;
  }

  public String getS3Endpoint() {
    return s3Endpoint;
  }

  public void setS3Endpoint(String s3Endpoint) {
    this.s3Endpoint = s3Endpoint;
  }

  public String getS3Region() {
    return s3Region;
  }

  public void setS3Region(String s3Region) {
    this.s3Region = s3Region;
  }
}

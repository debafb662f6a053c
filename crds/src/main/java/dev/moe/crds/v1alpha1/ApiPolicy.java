package dev.moe.crds.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Size;
import io.fabric8.generator.annotation.ValidationRule;

/** The workers' OpenAI-compatible API as clients reach it. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class ApiPolicy {

  /** The key of {@link #keySecret} that holds the API key. */
  public static final String KEY = "api-key";

  @Size(max = 253)
  @ValidationRule(value = "self.matches('^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$')",
      message = "api.keySecret must be a Secret's name: lower-case letters, digits, '-' and '.',"
          + " starting and ending with a letter or digit",
      reason = "FieldValueInvalid")
  @JsonPropertyDescription("A Secret in the model's namespace whose key 'api-key' holds the API key: every /v1"
      + " request must then send 'Authorization: Bearer <key>' (401 otherwise). Unset: the API takes any client;"
      + " authenticate them in front of the model's Service.")
  private String keySecret;

  public String getKeySecret() {
    return keySecret;
  }

  public void setKeySecret(String keySecret) {
    this.keySecret = keySecret;
  }
}

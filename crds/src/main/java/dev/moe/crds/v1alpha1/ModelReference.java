package dev.moe.crds.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Required;

/** A MoEModel in the same namespace. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class ModelReference {

  @Required
  @JsonPropertyDescription("Name of the MoEModel.")
  private String name;

  public String getName() {
    return name;
  }

  public void setName(String name) {
    this.name = name;
  }
}

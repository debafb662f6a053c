package dev.moe.crds.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Required;
import io.fabric8.kubernetes.api.model.ConfigMapKeySelector;

/** Recorded expert statistics for the initial placement. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class InitialStatistics {

  @Required
  @JsonPropertyDescription("A key of a ConfigMap in the model's namespace holding a logical_count file"
      + " ([layers][experts] token counts, the solver's statistics format).")
  private ConfigMapKeySelector configMapKeyRef;

  public ConfigMapKeySelector getConfigMapKeyRef() {
    return configMapKeyRef;
  }

  public void setConfigMapKeyRef(ConfigMapKeySelector configMapKeyRef) {
    this.configMapKeyRef = configMapKeyRef;
  }
}

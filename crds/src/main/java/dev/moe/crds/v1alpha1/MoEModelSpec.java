package dev.moe.crds.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.ValidationRule;
import io.fabric8.kubernetes.api.model.Affinity;
import io.fabric8.kubernetes.api.model.ResourceRequirements;
import io.fabric8.kubernetes.api.model.Toleration;
import java.util.List;
import java.util.Map;

/** What the user asks for: the model, where its weights are, how it is spread, how it is placed. */
@JsonInclude(JsonInclude.Include.NON_NULL)
@ValidationRule(value = "!has(self.parallelism.slotsPerGpu) || self.parallelism.slotsPerGpu * self.parallelism.workers"
    + " * self.parallelism.gpusPerWorker >= self.model.expertsPerLayer",
    message = "parallelism.slotsPerGpu x workers x gpusPerWorker (the expert slots of all GPUs) must be at least"
        + " model.expertsPerLayer: every expert needs a slot; add workers or slots per GPU",
    fieldPath = ".parallelism.slotsPerGpu", reason = "FieldValueInvalid")
public class MoEModelSpec {

  @Required
  @JsonPropertyDescription("The model's shape: layers, experts, routing, sizes and dtype.")
  private ModelShape model;

  @Required
  @JsonPropertyDescription("Where the workers load the weights from: a PVC path or a URI.")
  private Weights weights;

  @Required
  @JsonPropertyDescription("How many workers, with how many GPUs each, and how many expert slots each GPU has.")
  private Parallelism parallelism;

  @Required
  @JsonPropertyDescription("The worker container image.")
  private String image;

  @JsonPropertyDescription("Resources of each worker container (GPUs included).")
  private ResourceRequirements resources;

  @JsonPropertyDescription("Node selector of the worker pods.")
  private Map<String, String> nodeSelector;

  @JsonPropertyDescription("Tolerations of the worker pods.")
  private List<Toleration> tolerations;

  @JsonPropertyDescription("Affinity of the worker pods.")
  private Affinity affinity;

  @JsonPropertyDescription("How the solver places experts on GPUs.")
  private PlacementPolicy placement;

  @JsonPropertyDescription("When the operator re-plans the placement as traffic changes.")
  private RebalancingPolicy rebalancing;

  @JsonPropertyDescription("The workers' OpenAI-compatible API: an API key clients must send.")
  private ApiPolicy api;

  public ApiPolicy getApi() {
    return api;
  }

  public void setApi(ApiPolicy api) {
    this.api = api;
  }

  public ModelShape getModel() {
    return model;
  }

  public void setModel(ModelShape model) {
    this.model = model;
  }

  public Weights getWeights() {
    return weights;
  }

  public void setWeights(Weights weights) {
    this.weights = weights;
  }

  public Parallelism getParallelism() {
    return parallelism;
  }

  public void setParallelism(Parallelism parallelism) {
    this.parallelism = parallelism;
  }

  public String getImage() {
    return image;
  }

  public void setImage(String image) {
    this.image = image;
  }

  public ResourceRequirements getResources() {
    return resources;
  }

  public void setResources(ResourceRequirements resources) {
    this.resources = resources;
  }

  public Map<String, String> getNodeSelector() {
    return nodeSelector;
  }

  public void setNodeSelector(Map<String, String> nodeSelector) {
    this.nodeSelector = nodeSelector;
  }

  public List<Toleration> getTolerations() {
    return tolerations;
  }

  public void setTolerations(List<Toleration> tolerations) {
    this.tolerations = tolerations;
  }

  public Affinity getAffinity() {
    return affinity;
  }

  public void setAffinity(Affinity affinity) {
    this.affinity = affinity;
  }

  public PlacementPolicy getPlacement() {
    return placement;
  }

  public void setPlacement(PlacementPolicy placement) {
    this.placement = placement;
  }

  public RebalancingPolicy getRebalancing() {
    return rebalancing;
  }

  public void setRebalancing(RebalancingPolicy rebalancing) {
    this.rebalancing = rebalancing;
  }
}

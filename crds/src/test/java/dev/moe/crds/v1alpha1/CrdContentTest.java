package dev.moe.crds.v1alpha1;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceColumnDefinition;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinitionVersion;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceSubresourceScale;
import io.fabric8.kubernetes.api.model.apiextensions.v1.JSONSchemaProps;
import io.fabric8.kubernetes.api.model.apiextensions.v1.ValidationRule;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** What the generated CRDs must contain for kubectl, the scale subresource and validation. */
class CrdContentTest {

  private static CustomResourceDefinitionVersion version(String file) {
    CustomResourceDefinition crd = GeneratedCrds.load(file);
    assertEquals(1, crd.getSpec().getVersions().size());
    CustomResourceDefinitionVersion version = crd.getSpec().getVersions().getFirst();
    assertEquals("v1alpha1", version.getName());
    return version;
  }

  private static JSONSchemaProps schemaAt(String file, String path) {
    JSONSchemaProps schema = version(file).getSchema().getOpenAPIV3Schema();
    for (String property : path.split("\\.")) {
      schema = schema.getProperties().get(property);
      assertNotNull(schema, "no " + path + " in " + file);
    }
    return schema;
  }

  @Test
  void moeModelNamesGroupAndShortName() {
    CustomResourceDefinition crd = GeneratedCrds.load("moemodels.moe.dev-v1.yml");
    assertEquals("moe.dev", crd.getSpec().getGroup());
    assertEquals("Namespaced", crd.getSpec().getScope());
    assertEquals("MoEModel", crd.getSpec().getNames().getKind());
    assertEquals("moemodels", crd.getSpec().getNames().getPlural());
    assertEquals(List.of("moe"), crd.getSpec().getNames().getShortNames());
  }

  @Test
  void moeModelHasStatusAndScaleSubresources() {
    CustomResourceDefinitionVersion version = version("moemodels.moe.dev-v1.yml");
    assertNotNull(version.getSubresources().getStatus(), "status subresource");
    CustomResourceSubresourceScale scale = version.getSubresources().getScale();
    assertNotNull(scale, "scale subresource");
    assertEquals(".spec.parallelism.workers", scale.getSpecReplicasPath());
    assertEquals(".status.workers.desired", scale.getStatusReplicasPath());
    assertEquals(".status.selector", scale.getLabelSelectorPath());
    // Each path points at a field of the schema.
    assertEquals("integer", schemaAt("moemodels.moe.dev-v1.yml", "spec.parallelism.workers").getType());
    assertEquals("integer", schemaAt("moemodels.moe.dev-v1.yml", "status.workers.desired").getType());
    assertEquals("string", schemaAt("moemodels.moe.dev-v1.yml", "status.selector").getType());
  }

  @Test
  void moeModelPrinterColumns() {
    List<CustomResourceColumnDefinition> columns = version("moemodels.moe.dev-v1.yml").getAdditionalPrinterColumns();
    assertEquals(List.of("Ready", "Workers", "Balancedness", "Placement", "Reason", "Endpoint", "Age"),
        columns.stream().map(CustomResourceColumnDefinition::getName).toList());
    assertEquals(Map.of(
            "Ready", ".status.conditions[?(@.type==\"Ready\")].status",
            "Workers", ".status.workers.ready",
            "Balancedness", ".status.currentPlacement.observedBalancedness",
            "Placement", ".status.currentPlacement.revision",
            "Reason", ".status.conditions[?(@.type==\"Ready\")].reason",
            "Endpoint", ".status.endpoint",
            "Age", ".metadata.creationTimestamp"),
        columnPaths(columns));
    assertEquals(List.of("Reason", "Endpoint"), columns.stream().filter(c -> c.getPriority() > 0)
        .map(CustomResourceColumnDefinition::getName).toList(), "only Reason and Endpoint are wide-only");
  }

  @Test
  void expertPlacementPrinterColumnsAndNoSubresources() {
    CustomResourceDefinitionVersion version = version("expertplacements.moe.dev-v1.yml");
    List<CustomResourceColumnDefinition> columns = version.getAdditionalPrinterColumns();
    assertEquals(List.of("Model", "Revision", "Balancedness", "Moved", "Restores", "Age"),
        columns.stream().map(CustomResourceColumnDefinition::getName).toList());
    assertEquals(Map.of(
            "Model", ".spec.model.name",
            "Revision", ".spec.revision",
            "Balancedness", ".spec.report.balancedness",
            "Moved", ".spec.report.replicas_moved",
            "Restores", ".spec.restores",
            "Age", ".metadata.creationTimestamp"),
        columnPaths(columns));
    assertNull(version.getSubresources(), "an ExpertPlacement has no status or scale");
  }

  @Test
  void expertPlacementUsesThePlacementFileFieldNames() {
    JSONSchemaProps spec = schemaAt("expertplacements.moe.dev-v1.yml", "spec");
    assertEquals(List.of("model", "physical_to_logical_map", "replica_shares", "report", "restores", "revision",
            "slots_per_gpu"),
        spec.getProperties().keySet().stream().sorted().toList());
    assertEquals(List.of("model", "physical_to_logical_map", "revision", "slots_per_gpu"),
        spec.getRequired().stream().sorted().toList());
    assertEquals(List.of("balancedness", "balancedness_bound", "cross_gpu_transition_fraction", "cross_node_fraction",
            "gap", "replicas_moved", "solve_seconds", "target_balancedness"),
        spec.getProperties().get("report").getProperties().keySet().stream().sorted().toList());
    JSONSchemaProps map = spec.getProperties().get("physical_to_logical_map");
    assertEquals("integer", map.getItems().getSchema().getItems().getSchema().getType());
  }

  static Stream<Arguments> celRules() {
    String moe = "moemodels.moe.dev-v1.yml";
    return Stream.of(
        Arguments.of(moe, "spec.model", "self.topK <= self.expertsPerLayer",
            "model.topK (experts each token is routed to) must not exceed model.expertsPerLayer"),
        Arguments.of(moe, "spec.model",
            "!has(self.expertGroups) || self.expertGroups == 0 || self.expertsPerLayer % self.expertGroups == 0",
            "model.expertsPerLayer must be divisible by model.expertGroups: every group holds the same number of experts"),
        Arguments.of(moe, "spec.model",
            "!has(self.topkGroups) || (has(self.expertGroups) && self.topkGroups <= self.expertGroups)",
            "model.topkGroups (groups each token may be routed to) needs model.expertGroups and must not exceed it"),
        Arguments.of(moe, "spec.model", "!has(self.topkGroups) || !has(self.expertGroups) || self.expertGroups == 0"
                + " || self.topK > self.expertsPerLayer"
                + " || self.topK <= self.topkGroups * (self.expertsPerLayer / self.expertGroups)",
            "model.topK must not exceed the experts of model.topkGroups groups (topkGroups x expertsPerLayer"
                + " / expertGroups): a token cannot be routed to more experts than its groups hold; raise topkGroups or"
                + " lower topK"),
        Arguments.of(moe, "spec",
            "!has(self.parallelism.slotsPerGpu) || self.parallelism.slotsPerGpu * self.parallelism.workers"
                + " * self.parallelism.gpusPerWorker >= self.model.expertsPerLayer",
            "parallelism.slotsPerGpu x workers x gpusPerWorker (the expert slots of all GPUs) must be at least"
                + " model.expertsPerLayer: every expert needs a slot; add workers or slots per GPU"),
        Arguments.of(moe, "spec.parallelism",
            "!has(self.gpusPerNode) || (self.workers * self.gpusPerWorker) % self.gpusPerNode == 0",
            "parallelism.gpusPerNode must divide the total GPUs (workers x gpusPerWorker): the workers fill whole nodes"),
        Arguments.of(moe, "spec.parallelism", "has(self.slotsPerGpu) != has(self.gpuMemory)",
            "parallelism needs exactly one of slotsPerGpu (expert slots on each GPU) or gpuMemory (memory each GPU"
                + " gives to experts, from which the operator derives the slots)"),
        Arguments.of(moe, "spec.weights", "has(self.pvc) != has(self.uri)",
            "weights needs exactly one of weights.pvc (a PersistentVolumeClaim and a path on it) or weights.uri"),
        Arguments.of(moe, "spec.parallelism.gpuMemory",
            "type(self) == int ? self > 0 : isQuantity(self) && quantity(self).isGreaterThan(quantity('0'))",
            "parallelism.gpuMemory must be a positive amount of memory, such as 40Gi or 80G"),
        Arguments.of(moe, "spec.placement.timeLimit", PlacementPolicy.DURATION_RULE,
            "placement.timeLimit" + PlacementPolicy.DURATION_MESSAGE),
        Arguments.of(moe, "spec.rebalancing.statisticsWindow", PlacementPolicy.DURATION_RULE,
            "rebalancing.statisticsWindow" + PlacementPolicy.DURATION_MESSAGE),
        Arguments.of(moe, "spec.rebalancing.minInterval", PlacementPolicy.DURATION_RULE,
            "rebalancing.minInterval" + PlacementPolicy.DURATION_MESSAGE),
        Arguments.of(moe, "spec.rebalancing.coolDown", PlacementPolicy.DURATION_RULE,
            "rebalancing.coolDown" + PlacementPolicy.DURATION_MESSAGE),
        Arguments.of(moe, "spec.rebalancing.churnBudget.period", PlacementPolicy.DURATION_RULE,
            "rebalancing.churnBudget.period" + PlacementPolicy.DURATION_MESSAGE),
        Arguments.of(moe, "spec.weights.uri", "self.matches('^[a-zA-Z][a-zA-Z0-9+.-]*://.+$')",
            "weights.uri must be a URI with a scheme, such as hf://org/model, s3://bucket/path or https://host/path"),
        Arguments.of(moe, "spec.weights",
            "!has(self.pvc) || !(has(self.credentialsSecret) || has(self.s3Endpoint) || has(self.s3Region))",
            "weights.credentialsSecret, weights.s3Endpoint and weights.s3Region are for fetching weights.uri, not for"
                + " weights.pvc"),
        Arguments.of(moe, "spec.weights.credentialsSecret", "self.matches('^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$')",
            "weights.credentialsSecret must be a Secret's name: lower-case letters, digits, '-' and '.',"
                + " starting and ending with a letter or digit"),
        Arguments.of(moe, "spec.api.keySecret", "self.matches('^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$')",
            "api.keySecret must be a Secret's name: lower-case letters, digits, '-' and '.',"
                + " starting and ending with a letter or digit"),
        Arguments.of(moe, "spec.weights.s3Endpoint", "self.matches('^https?://[^/?#]+(/[^?#]*)?$')",
            "weights.s3Endpoint must be an http:// or https:// URL of an S3-compatible server, e.g."
                + " https://minio.storage.svc:9000"),
        Arguments.of(moe, "spec.weights.pvc.claimName", "self.matches('^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$')",
            "weights.pvc.claimName must be a PersistentVolumeClaim's name: lower-case letters, digits, '-' and '.',"
                + " starting and ending with a letter or digit"),
        Arguments.of(moe, "spec.weights.pvc.path", "self != '' && !self.contains('\\u0000')",
            "weights.pvc.path must be the path of the weights inside the volume, e.g. /models/small"),
        Arguments.of("expertplacements.moe.dev-v1.yml", "spec.revision", "self == oldSelf",
            "an ExpertPlacement's revision cannot change; create a new one"),
        Arguments.of("expertplacements.moe.dev-v1.yml", "spec.restores", "self == oldSelf",
            "an ExpertPlacement's restores cannot change"),
        Arguments.of("expertplacements.moe.dev-v1.yml", "spec.model", "self == oldSelf",
            "an ExpertPlacement's model cannot change; create a new ExpertPlacement for the other model"));
  }

  @ParameterizedTest(name = "{1}: {2}")
  @MethodSource("celRules")
  void celRuleWithItsMessage(String file, String path, String rule, String message) {
    List<ValidationRule> rules = schemaAt(file, path).getXKubernetesValidations();
    assertNotNull(rules, "no CEL rules on " + path);
    ValidationRule found = rules.stream().filter(r -> r.getRule().equals(rule)).findFirst().orElse(null);
    assertNotNull(found, "no rule `" + rule + "` on " + path + ", only " + rules.stream().map(ValidationRule::getRule).toList());
    assertEquals(message, found.getMessage());
  }

  @Test
  void everyCelRuleIsTested() {
    long moe = countRules(version("moemodels.moe.dev-v1.yml").getSchema().getOpenAPIV3Schema());
    long placement = countRules(version("expertplacements.moe.dev-v1.yml").getSchema().getOpenAPIV3Schema());
    assertEquals(celRules().count(), moe + placement, "a CEL rule without a case in celRules()");
  }

  @Test
  void schemaBounds() {
    String moe = "moemodels.moe.dev-v1.yml";
    assertEquals(List.of("bf16", "fp32", "fp8"),
        schemaAt(moe, "spec.model.dtype").getEnum().stream().map(n -> n.asText()).sorted().toList());
    assertEquals(List.of("Auto", "Observe", "Off"),
        schemaAt(moe, "spec.rebalancing.mode").getEnum().stream().map(n -> n.asText()).sorted().toList());
    assertEquals(List.of("declined", "taken"),
        schemaAt(moe, "status.rebalanceHistory").getItems().getSchema().getProperties().get("decision").getEnum()
            .stream().map(n -> n.asText()).sorted().toList());
    assertEquals(1.0, schemaAt(moe, "spec.parallelism.workers").getMinimum());
    assertEquals(0.0, schemaAt(moe, "spec.rebalancing.triggerBalancedness").getMinimum());
    assertEquals(1.0, schemaAt(moe, "spec.rebalancing.triggerBalancedness").getMaximum());
    assertEquals(PlacementPolicy.DURATION_LENGTH, schemaAt(moe, "spec.rebalancing.coolDown").getMaxLength());
    assertEquals(1.0, schemaAt(moe, "spec.rebalancing.minStatisticsCoverage").getMaximum());
    assertEquals((double) ChurnBudget.MAX_REBALANCES, schemaAt(moe, "spec.rebalancing.churnBudget.maxRebalances")
        .getMaximum());
    assertEquals(0.0, schemaAt(moe, "spec.rebalancing.churnBudget.maxReplicasMoved").getMinimum());
    assertEquals(List.of("image", "model", "parallelism", "weights"),
        schemaAt(moe, "spec").getRequired().stream().sorted().toList());
    assertEquals((long) MoEModelStatus.HISTORY, schemaAt(moe, "status.rebalanceHistory").getMaxItems());
  }

  private static long countRules(JSONSchemaProps schema) {
    if (schema == null) {
      return 0;
    }
    long count = schema.getXKubernetesValidations() == null ? 0 : schema.getXKubernetesValidations().size();
    if (schema.getProperties() != null) {
      for (JSONSchemaProps child : schema.getProperties().values()) {
        count += countRules(child);
      }
    }
    if (schema.getItems() != null) {
      count += countRules(schema.getItems().getSchema());
    }
    if (schema.getAdditionalProperties() != null) {
      count += countRules(schema.getAdditionalProperties().getSchema());
    }
    return count;
  }

  private static Map<String, String> columnPaths(List<CustomResourceColumnDefinition> columns) {
    return columns.stream().collect(Collectors.toMap(
        CustomResourceColumnDefinition::getName, CustomResourceColumnDefinition::getJsonPath));
  }
}

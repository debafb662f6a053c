package dev.moe.operator.api;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * What {@code kubectl apply} tells a user about a MoEModel, from the real API server's schema and
 * CEL rules. Every case edits the valid example in one way, so a refusal is that edit's.
 */
class MoEModelValidationTest {

  private static final String NS = "moe-validation";
  private static final String DURATION = " must be a duration such as 30s, 5m, 1h30m or 500ms";
  private static final String AT_LEAST_ONE = "should be greater than or equal to 1";

  @BeforeAll
  static void namespace() {
    Apply.namespace(NS);
  }

  @AfterAll
  static void cleanUp() {
    Apply.deleteAll(NS);
  }

  static Stream<Refusal> refused() {
    return Stream.of(
        // The CEL rules (x-kubernetes-validations), both sides of each "exactly one" rule.
        new Refusal("topk-above-experts", m -> m.set("spec.model.topK", 17), "spec.model.topK",
            "model.topK (experts each token is routed to) must not exceed model.expertsPerLayer"),
        new Refusal("experts-not-divisible-by-groups", m -> m.set("spec.model.expertGroups", 3),
            "spec.model.expertGroups", "model.expertsPerLayer must be divisible by model.expertGroups"),
        new Refusal("topk-groups-without-groups", m -> m.remove("spec.model.expertGroups"), "spec.model.topkGroups",
            "model.topkGroups (groups each token may be routed to) needs model.expertGroups and must not exceed it"),
        new Refusal("topk-groups-above-groups", m -> m.set("spec.model.topkGroups", 5), "spec.model.topkGroups",
            "model.topkGroups (groups each token may be routed to) needs model.expertGroups and must not exceed it"),
        // One group of 4 experts cannot give a token 5.
        new Refusal("topk-above-its-groups", m -> m.set("spec.model.topkGroups", 1).set("spec.model.topK", 5),
            "spec.model.topK", "model.topK must not exceed the experts of model.topkGroups groups"),
        new Refusal("too-few-slots", m -> m.set("spec.parallelism.slotsPerGpu", 7), "spec.parallelism.slotsPerGpu",
            "parallelism.slotsPerGpu x workers x gpusPerWorker (the expert slots of all GPUs) must be at least"
                + " model.expertsPerLayer: every expert needs a slot; add workers or slots per GPU"),
        new Refusal("gpus-per-node-not-dividing", m -> m.set("spec.parallelism.gpusPerNode", 4),
            "spec.parallelism.gpusPerNode",
            "parallelism.gpusPerNode must divide the total GPUs (workers x gpusPerWorker)"),
        new Refusal("slots-and-gpu-memory", m -> m.set("spec.parallelism.gpuMemory", "40Gi"), "spec.parallelism",
            "parallelism needs exactly one of slotsPerGpu (expert slots on each GPU) or gpuMemory"),
        new Refusal("neither-slots-nor-gpu-memory", m -> m.remove("spec.parallelism.slotsPerGpu"), "spec.parallelism",
            "parallelism needs exactly one of slotsPerGpu (expert slots on each GPU) or gpuMemory"),
        new Refusal("pvc-and-uri", m -> m.set("spec.weights.uri", "hf://org/small"), "spec.weights",
            "weights needs exactly one of weights.pvc (a PersistentVolumeClaim and a path on it) or weights.uri"),
        new Refusal("neither-pvc-nor-uri", m -> m.remove("spec.weights.pvc"), "spec.weights",
            "weights needs exactly one of weights.pvc (a PersistentVolumeClaim and a path on it) or weights.uri"),
        // Formats.
        new Refusal("uri-without-scheme", m -> m.remove("spec.weights.pvc").set("spec.weights.uri", "models/small"),
            "spec.weights.uri", "weights.uri must be a URI with a scheme, such as hf://org/model"),
        new Refusal("fetch-settings-with-pvc", m -> m.set("spec.weights.credentialsSecret", "s3-reader"), "spec.weights",
            "weights.credentialsSecret, weights.s3Endpoint and weights.s3Region are for fetching weights.uri"),
        new Refusal("credentials-secret-not-a-name", m -> s3(m).set("spec.weights.credentialsSecret", "S3 Reader"),
            "spec.weights.credentialsSecret", "weights.credentialsSecret must be a Secret's name"),
        new Refusal("api-key-secret-not-a-name", m -> m.set("spec.api.keySecret", "API Key"),
            "spec.api.keySecret", "api.keySecret must be a Secret's name"),
        new Refusal("s3-endpoint-not-a-url", m -> s3(m).set("spec.weights.s3Endpoint", "minio:9000"),
            "spec.weights.s3Endpoint", "weights.s3Endpoint must be an http:// or https:// URL of an S3-compatible server"),
        new Refusal("claim-name-not-a-name", m -> m.set("spec.weights.pvc.claimName", "Model_Weights"),
            "spec.weights.pvc.claimName", "weights.pvc.claimName must be a PersistentVolumeClaim's name"),
        new Refusal("empty-path", m -> m.set("spec.weights.pvc.path", ""), "spec.weights.pvc.path",
            "weights.pvc.path must be the path of the weights inside the volume"),
        new Refusal("gpu-memory-in-words", m -> gpuMemory(m, "forty gigs"), "spec.parallelism.gpuMemory",
            "parallelism.gpuMemory must be a positive amount of memory, such as 40Gi"),
        new Refusal("gpu-memory-zero", m -> gpuMemory(m, "0Gi"), "spec.parallelism.gpuMemory",
            "parallelism.gpuMemory must be a positive amount of memory, such as 40Gi"),
        new Refusal("gpu-memory-zero-bytes", m -> gpuMemory(m, 0), "spec.parallelism.gpuMemory",
            "parallelism.gpuMemory must be a positive amount of memory, such as 40Gi"),
        new Refusal("time-limit-in-words", m -> m.set("spec.placement.timeLimit", "30 seconds"),
            "spec.placement.timeLimit", "placement.timeLimit" + DURATION),
        new Refusal("statistics-window-without-unit", m -> m.set("spec.rebalancing.statisticsWindow", "600"),
            "spec.rebalancing.statisticsWindow", "rebalancing.statisticsWindow" + DURATION),
        new Refusal("cool-down-in-days", m -> m.set("spec.rebalancing.coolDown", "1d"),
            "spec.rebalancing.coolDown", "rebalancing.coolDown" + DURATION),
        new Refusal("min-interval-negative", m -> m.set("spec.rebalancing.minInterval", "-5m"),
            "spec.rebalancing.minInterval", "rebalancing.minInterval" + DURATION),
        new Refusal("churn-period-in-words", m -> m.set("spec.rebalancing.churnBudget.period", "1 hour"),
            "spec.rebalancing.churnBudget.period", "rebalancing.churnBudget.period" + DURATION),
        // Ranges.
        new Refusal("zero-workers", m -> m.set("spec.parallelism.workers", 0), "spec.parallelism.workers",
            AT_LEAST_ONE),
        new Refusal("trigger-above-one", m -> m.set("spec.rebalancing.triggerBalancedness", 1.5),
            "spec.rebalancing.triggerBalancedness", "should be less than or equal to 1"),
        new Refusal("gain-above-one", m -> m.set("spec.rebalancing.minPredictedGain", 2),
            "spec.rebalancing.minPredictedGain", "should be less than or equal to 1"),
        new Refusal("negative-move-budget", m -> m.set("spec.rebalancing.moveBudget", -1),
            "spec.rebalancing.moveBudget", "should be greater than or equal to 0"),
        new Refusal("coverage-above-one", m -> m.set("spec.rebalancing.minStatisticsCoverage", 1.5),
            "spec.rebalancing.minStatisticsCoverage", "should be less than or equal to 1"),
        new Refusal("too-many-rebalances-per-period", m -> m.set("spec.rebalancing.churnBudget.maxRebalances", 101),
            "spec.rebalancing.churnBudget.maxRebalances", "should be less than or equal to 100"),
        new Refusal("negative-replicas-per-period", m -> m.set("spec.rebalancing.churnBudget.maxReplicasMoved", -1),
            "spec.rebalancing.churnBudget.maxReplicasMoved", "should be greater than or equal to 0"),
        new Refusal("zero-gpus-per-worker", m -> m.set("spec.parallelism.gpusPerWorker", 0),
            "spec.parallelism.gpusPerWorker", AT_LEAST_ONE),
        new Refusal("too-many-gpus-per-node", m -> m.set("spec.parallelism.gpusPerNode", 65),
            "spec.parallelism.gpusPerNode", "should be less than or equal to 64"),
        new Refusal("zero-slots", m -> m.set("spec.parallelism.slotsPerGpu", 0), "spec.parallelism.slotsPerGpu",
            AT_LEAST_ONE),
        new Refusal("zero-layers", m -> m.set("spec.model.moeLayers", 0), "spec.model.moeLayers", AT_LEAST_ONE),
        new Refusal("too-many-experts", m -> m.set("spec.model.expertsPerLayer", 65537), "spec.model.expertsPerLayer",
            "should be less than or equal to 65536"),
        // The divisibility rule must not divide by it (the stderr check in Apply).
        new Refusal("zero-expert-groups", m -> m.set("spec.model.expertGroups", 0), "spec.model.expertGroups",
            AT_LEAST_ONE),
        new Refusal("negative-shared-experts", m -> m.set("spec.model.sharedExperts", -1), "spec.model.sharedExperts",
            "should be greater than or equal to 0"),
        new Refusal("zero-hidden-size", m -> m.set("spec.model.hiddenSize", 0), "spec.model.hiddenSize", AT_LEAST_ONE),
        new Refusal("negative-cross-node-weight", m -> m.set("spec.placement.crossNodeWeight", -0.1),
            "spec.placement.crossNodeWeight", "should be greater than or equal to 0"),
        new Refusal("zero-pinned-revision", m -> m.set("spec.placement.pinnedRevision", 0),
            "spec.placement.pinnedRevision", AT_LEAST_ONE),
        // Required fields, among them ones the CEL rules read.
        new Refusal("no-image", m -> m.remove("spec.image"), "spec.image", "Required value"),
        new Refusal("no-dtype", m -> m.remove("spec.model.dtype"), "spec.model.dtype", "Required value"),
        new Refusal("no-experts", m -> m.remove("spec.model.expertsPerLayer"), "spec.model.expertsPerLayer",
            "Required value"),
        new Refusal("no-workers", m -> m.remove("spec.parallelism.workers"), "spec.parallelism.workers",
            "Required value"),
        new Refusal("no-claim-name", m -> m.remove("spec.weights.pvc.claimName"), "spec.weights.pvc.claimName",
            "Required value"),
        new Refusal("no-statistics-key", m -> m.remove("spec.placement.initialStatistics.configMapKeyRef"),
            "spec.placement.initialStatistics.configMapKeyRef", "Required value"),
        // Enums.
        new Refusal("unknown-rebalancing-mode", m -> m.set("spec.rebalancing.mode", "Manual"), "spec.rebalancing.mode",
            "Unsupported value: \"Manual\": supported values: \"Auto\", \"Observe\", \"Off\""),
        new Refusal("unknown-dtype", m -> m.set("spec.model.dtype", "int4"), "spec.model.dtype",
            "Unsupported value: \"int4\": supported values: \"bf16\", \"fp32\", \"fp8\""));
  }

  private static Manifest s3(Manifest m) {
    return m.remove("spec.weights.pvc").set("spec.weights.uri", "s3://bucket/small");
  }

  private static Manifest gpuMemory(Manifest m, Object memory) {
    return m.remove("spec.parallelism.slotsPerGpu").set("spec.parallelism.gpuMemory", memory);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource
  void refused(Refusal c) {
    c.assertRefused(Manifest.example(NS, c.name()));
  }

  /** A valid edit at the edge of a rule, so that a rule refusing too much fails too. */
  record Edit(String name, UnaryOperator<Manifest> edit) {
    @Override
    public String toString() {
      return name;
    }
  }

  static Stream<Edit> accepted() {
    return Stream.of(
        new Edit("topk-equal-to-experts", m -> m.set("spec.model.topK", 16).remove("spec.model.topkGroups")),
        new Edit("topk-filling-its-groups", m -> m.set("spec.model.topkGroups", 1).set("spec.model.topK", 4)),
        new Edit("topk-groups-equal-to-groups", m -> m.set("spec.model.topkGroups", 4)),
        new Edit("ungrouped-routing", m -> m.remove("spec.model.expertGroups").remove("spec.model.topkGroups")),
        new Edit("slots-exactly-cover-experts", m -> m.set("spec.parallelism.slotsPerGpu", 8)),
        new Edit("gpu-memory-instead-of-slots", m -> gpuMemory(m, "40Gi")),
        new Edit("gpu-memory-in-bytes", m -> gpuMemory(m, 42949672960L)),
        new Edit("uri-instead-of-pvc", m -> m.remove("spec.weights.pvc").set("spec.weights.uri", "s3://bucket/small")),
        new Edit("uri-with-fetch-settings", m -> s3(m).set("spec.weights.credentialsSecret", "s3-reader")
            .set("spec.weights.s3Endpoint", "https://minio.storage.svc:9000").set("spec.weights.s3Region", "eu-west-1")),
        new Edit("api-key-secret", m -> m.set("spec.api.keySecret", "qwen-api-key")),
        new Edit("two-gpus-per-node", m -> m.set("spec.parallelism.gpusPerNode", 2)),
        new Edit("no-gpus-per-node", m -> m.remove("spec.parallelism.gpusPerNode")),
        new Edit("compound-durations", m -> m.set("spec.placement.timeLimit", "1m30s")
            .set("spec.rebalancing.minInterval", "500ms").set("spec.rebalancing.coolDown", "1.5h")
            .set("spec.rebalancing.statisticsWindow", "2h")),
        new Edit("no-policies", m -> m.remove("spec.placement").remove("spec.rebalancing")));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource
  void accepted(Edit c) {
    // Server-side dry run: the whole admission and validation path, nothing stored.
    Apply.accepted(c.edit().apply(Manifest.example(NS, c.name())), "--dry-run=server");
  }

  @Test
  void theExampleIsAcceptedAsWritten() {
    Apply.accepted(Manifest.example(NS, "small"));
    assertEquals("16", Apply.kubectl("get", "moe", "small", "-n", NS, "-o", "jsonpath={.spec.model.expertsPerLayer}"));
  }

  @Test
  void aMisspeltFieldIsRefusedNotDropped() {
    // kubectl asks for strict field validation: without it a typo'd optional field would vanish silently.
    Apply.refused(Manifest.example(NS, "misspelt").set("spec.rebalancing.triggerBalance", 0.8),
        "unknown field \"spec.rebalancing.triggerBalance\"");
  }
}

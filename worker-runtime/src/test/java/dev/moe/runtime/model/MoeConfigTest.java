package dev.moe.runtime.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.moe.runtime.Fixtures;
import org.junit.jupiter.api.Test;

class MoeConfigTest {

  private static MoeConfig fixture(String arch) {
    return MoeConfig.read(Fixtures.dir(arch).resolve("config.json"));
  }

  private static MoeConfig parse(String json) {
    try {
      return MoeConfig.parse(JsonMapper.builder().build().readTree(json), "config.json");
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new AssertionError(e);
    }
  }

  private static String error(String json) {
    return assertThrows(InvalidCheckpointException.class, () -> parse(json)).getMessage();
  }

  @Test
  void mixtral() {
    MoeConfig c = fixture("mixtral");
    assertEquals(Architecture.MIXTRAL, c.architecture());
    assertEquals(64, c.hiddenSize());
    assertEquals(8, c.numExperts());
    assertEquals(2, c.topK());
    assertEquals(32, c.expertIntermediateSize());
    assertFalse(c.hasSharedExpert());
    assertEquals(RouterKind.SOFTMAX_TOPK, c.routerKind());
    assertTrue(c.normTopkProb(), "Mixtral always renormalises");
    assertArrayEquals(new int[] {0, 1}, c.moeLayers());
    assertNull(c.fp8BlockSize());
  }

  @Test
  void qwen2MoeWithSparseStepAndSharedGate() {
    MoeConfig c = fixture("qwen2_moe");
    assertEquals(Architecture.QWEN2_MOE, c.architecture());
    assertArrayEquals(new int[] {1}, c.moeLayers(), "decoder_sparse_step 2: layer 1 only");
    assertEquals(64, c.sharedIntermediateSize());
    assertTrue(c.hasSharedGate());
    assertFalse(c.normTopkProb());
    assertEquals(4, c.topK());
  }

  @Test
  void qwen3MoeWithMlpOnlyLayers() {
    MoeConfig c = fixture("qwen3_moe");
    assertArrayEquals(new int[] {0}, c.moeLayers());
    assertEquals(40, c.expertIntermediateSize());
    assertTrue(c.normTopkProb());
    assertFalse(c.hasSharedExpert());
  }

  @Test
  void olmoe() {
    MoeConfig c = fixture("olmoe");
    assertEquals(Architecture.OLMOE, c.architecture());
    assertArrayEquals(new int[] {0, 1}, c.moeLayers());
    assertFalse(c.normTopkProb());
  }

  @Test
  void deepseekV3() {
    MoeConfig c = fixture("deepseek_v3");
    assertEquals(RouterKind.SIGMOID_GROUP_TOPK, c.routerKind());
    assertArrayEquals(new int[] {1}, c.moeLayers());
    assertEquals(136, c.hiddenSize());
    assertEquals(16, c.numExperts());
    assertEquals(32, c.sharedIntermediateSize());
    assertFalse(c.hasSharedGate());
    assertEquals(4, c.nGroup());
    assertEquals(2, c.topkGroup());
    assertEquals(2.5f, c.routedScalingFactor());
    assertTrue(c.normTopkProb());
    assertNull(c.fp8BlockSize());
    assertArrayEquals(new int[] {128, 128}, fixture("deepseek_v3_fp8").fp8BlockSize());
  }

  @Test
  void missingKeysTakeTransformersDefaults() {
    // save_pretrained leaves out values equal to the defaults, so {"model_type"} alone is DeepSeek-V3 itself.
    MoeConfig c = parse("{\"model_type\": \"deepseek_v3\"}");
    assertEquals(7168, c.hiddenSize());
    assertEquals(256, c.numExperts());
    assertEquals(8, c.topK());
    assertEquals(2048, c.expertIntermediateSize());
    assertEquals(2048, c.sharedIntermediateSize());
    assertEquals("3..60", c.describeMoeLayers());
    MoeConfig q = parse("{\"model_type\": \"qwen2_moe\"}");
    assertEquals(60, q.numExperts());
    assertEquals(5632, q.sharedIntermediateSize());
    assertEquals(24, q.moeLayers().length);
  }

  @Test
  void deepseekMoeLayerFrequency() {
    MoeConfig c = parse("{\"model_type\": \"deepseek_v3\", \"num_hidden_layers\": 7, \"first_k_dense_replace\": 1,"
        + " \"moe_layer_freq\": 2}");
    assertArrayEquals(new int[] {2, 4, 6}, c.moeLayers());
    assertEquals("2, 4, 6", c.describeMoeLayers());
  }

  @Test
  void qwenSparseStepAndMlpOnlyLayersCombine() {
    MoeConfig c = parse("{\"model_type\": \"qwen3_moe\", \"num_hidden_layers\": 6, \"mlp_only_layers\": [2]}");
    assertEquals("0..1, 3..5", c.describeMoeLayers());
    MoeConfig none = parse("{\"model_type\": \"qwen2_moe\", \"num_hidden_layers\": 2, \"num_experts\": 0}");
    assertEquals("none", none.describeMoeLayers());
  }

  @Test
  void denseAndOutOfRangeLayersAreExplained() {
    MoeConfig c = parse("{\"model_type\": \"deepseek_v3\", \"num_hidden_layers\": 3, \"first_k_dense_replace\": 1}");
    assertEquals("layer 0 of this deepseek_v3 checkpoint is a dense MLP layer, not MoE; MoE layers are 1..2",
        c.moeLayerProblem(0));
    assertNull(c.moeLayerProblem(1));
    assertEquals("layer 3 is out of range: this deepseek_v3 checkpoint has layers 0..2 (MoE layers are 1..2)",
        c.moeLayerProblem(3));
    assertEquals("layer -1 is out of range: this deepseek_v3 checkpoint has layers 0..2 (MoE layers are 1..2)",
        c.moeLayerProblem(-1));
  }

  @Test
  void unknownArchitectureListsTheSupportedOnes() {
    assertEquals("config.json: unsupported model_type 'llama'; supported model types: mixtral, qwen2_moe, qwen3_moe,"
        + " olmoe, deepseek_v3", error("{\"model_type\": \"llama\"}"));
    assertEquals("config.json: no \"model_type\"; supported model types: mixtral, qwen2_moe, qwen3_moe, olmoe,"
        + " deepseek_v3", error("{\"hidden_size\": 8}"));
  }

  @Test
  void badValuesAreNamed() {
    assertEquals("config.json: \"hidden_size\" is \"64\", expected an integer",
        error("{\"model_type\": \"mixtral\", \"hidden_size\": \"64\"}"));
    assertEquals("config.json: \"num_local_experts\" is 0, expected a positive integer",
        error("{\"model_type\": \"mixtral\", \"num_local_experts\": 0}"));
    assertEquals("config.json: num_experts_per_tok 9 exceeds the 8 experts",
        error("{\"model_type\": \"mixtral\", \"num_experts_per_tok\": 9}"));
    assertEquals("config.json: n_routed_experts 10 is not a multiple of n_group 4",
        error("{\"model_type\": \"deepseek_v3\", \"n_routed_experts\": 10, \"n_group\": 4}"));
    assertTrue(error("{\"model_type\": \"olmoe\", \"hidden_act\": \"gelu\"}").contains("hidden_act 'gelu'"));
    assertTrue(error("{\"model_type\": \"mixtral\", \"quantization_config\": {\"quant_method\": \"awq\"}}")
        .contains("quant_method 'awq' is not supported"));
  }

  @Test
  void missingConfigFile() {
    var e = assertThrows(InvalidCheckpointException.class,
        () -> MoeConfig.read(java.nio.file.Path.of("/nonexistent/config.json")));
    assertTrue(e.getMessage().startsWith("/nonexistent/config.json: no such file"), e.getMessage());
  }
}

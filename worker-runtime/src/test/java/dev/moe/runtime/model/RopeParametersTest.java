package dev.moe.runtime.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/** RoPE frequencies and factors against transformers' ROPE_INIT_FUNCTIONS (scripts/make_rope_fixture.py). */
class RopeParametersTest {

  private static final JsonMapper MAPPER = JsonMapper.builder().build();

  @TestFactory
  Stream<DynamicTest> frequenciesEqualTransformers() throws IOException {
    JsonNode root;
    try (InputStream in = RopeParametersTest.class.getResourceAsStream("/rope/expected_rope.json")) {
      root = MAPPER.readTree(in);
    }
    List<DynamicTest> tests = new ArrayList<>();
    for (JsonNode c : root.get("cases")) {
      tests.add(DynamicTest.dynamicTest(c.get("name").asText(), () -> {
        ModelConfig config = ModelConfig.parse(c.get("config"), c.get("name").asText(), null, null);
        RopeParameters rope = config.rope();
        JsonNode want = c.get("inv_freq");
        assertEquals(want.size(), rope.invFreq().length, "number of frequencies");
        for (int i = 0; i < want.size(); i++) {
          double w = want.get(i).asDouble();
          double got = rope.invFreq()[i];
          assertTrue(Math.abs(got - w) <= 2e-7 * Math.abs(w), "inv_freq[" + i + "] " + got + " vs " + w);
        }
        assertEquals(c.get("attention_factor").asDouble(), rope.attentionFactor(), 1e-6);
      }));
    }
    return tests.stream();
  }

  @Test
  void deepSeekSoftmaxScaleTakesTheMscaleSquared() {
    ObjectNode c = MAPPER.createObjectNode().put("model_type", "deepseek_v3").put("qk_nope_head_dim", 128)
        .put("qk_rope_head_dim", 64);
    c.putObject("rope_scaling").put("type", "yarn").put("factor", 40).put("mscale", 1.0).put("mscale_all_dim", 1.0)
        .put("original_max_position_embeddings", 4096);
    double m = 0.1 * Math.log(40) + 1;
    assertEquals(Math.pow(192, -0.5) * m * m, ModelConfig.parse(c, "c", null, null).attention().softmaxScale(), 1e-7);
  }

  @Test
  void transformersFiveRopeParametersReadLikeFourXRopeScaling() {
    ObjectNode v4 = MAPPER.createObjectNode().put("model_type", "qwen3_moe").put("rope_theta", 1e6);
    v4.putObject("rope_scaling").put("rope_type", "yarn").put("factor", 4.0).put("original_max_position_embeddings", 1024);
    ObjectNode v5 = MAPPER.createObjectNode().put("model_type", "qwen3_moe");
    v5.putObject("rope_parameters").put("rope_type", "yarn").put("rope_theta", 1e6).put("factor", 4.0)
        .put("original_max_position_embeddings", 1024);
    RopeParameters a = ModelConfig.parse(v4, "v4", null, null).rope();
    RopeParameters b = ModelConfig.parse(v5, "v5", null, null).rope();
    assertEquals(a.type(), b.type());
    assertEquals(a.attentionFactor(), b.attentionFactor());
    org.junit.jupiter.api.Assertions.assertArrayEquals(a.invFreq(), b.invFreq());
  }

  @Test
  void batchDependentRopeTypesAreRefusedWithTheReason() {
    ObjectNode c = MAPPER.createObjectNode().put("model_type", "mixtral");
    c.putObject("rope_scaling").put("rope_type", "dynamic").put("factor", 2.0);
    InvalidCheckpointException e = assertThrows(InvalidCheckpointException.class,
        () -> ModelConfig.parse(c, "config.json", null, null));
    assertTrue(e.getMessage().contains("'dynamic' is not supported"), e.getMessage());
    assertTrue(e.getMessage().contains("depend on what it is batched with"), e.getMessage());
  }
}

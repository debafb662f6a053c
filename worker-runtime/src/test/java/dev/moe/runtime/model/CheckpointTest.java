package dev.moe.runtime.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moe.runtime.Fixtures;
import dev.moe.runtime.tensor.DType;
import dev.moe.runtime.tensor.FloatFormats;
import dev.moe.runtime.tensor.RawSafetensors;
import dev.moe.runtime.tensor.SafetensorsFile;
import dev.moe.runtime.tensor.TensorView;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.FieldSource;

class CheckpointTest {

  static final List<String> archs = Fixtures.ARCHS;

  @TempDir Path tmp;

  /** Every fixture's naming scheme: router, every expert, the shared expert and gate where the architecture has them. */
  @ParameterizedTest
  @FieldSource("archs")
  void readsEveryMoeTensorOfEachArchitecture(String arch) {
    try (Checkpoint ckpt = Checkpoint.open(Fixtures.dir(arch))) {
      MoeConfig c = ckpt.config();
      int layer = Fixtures.layer(arch);
      assertEquals(arch.equals("qwen2_moe") || arch.startsWith("deepseek"), ckpt.sharded(), "sharded");
      RouterWeights r = ckpt.router(layer);
      assertEquals(c.numExperts() * c.hiddenSize(), r.weight().length);
      assertEquals(c.architecture() == Architecture.DEEPSEEK_V3, r.bias() != null);
      for (int e = 0; e < c.numExperts(); e++) {
        ExpertWeights w = ckpt.expert(layer, e);
        assertEquals(c.hiddenSize(), w.hidden());
        assertEquals(c.expertIntermediateSize(), w.inter());
        // F32 checkpoints are handed out as slices of the mapping; fp8 ones dequantised to F32.
        assertEquals(DType.F32, w.dtype());
        assertEquals(!arch.endsWith("fp8"), w.gate().isMapped(), "fp8 weights are converted, others mapped");
      }
      ExpertWeights shared = ckpt.sharedExpert(layer);
      assertEquals(arch.equals("qwen2_moe") || arch.startsWith("deepseek"), shared != null);
      if (shared != null) {
        assertEquals(c.sharedIntermediateSize(), shared.inter());
      }
      float[] gate = ckpt.sharedGate(layer);
      assertEquals(arch.equals("qwen2_moe"), gate != null);
    }
  }

  @Test
  void aShardedCopyReadsTheSameAsTheSingleFile() throws Exception {
    Path single = Fixtures.dir("mixtral");
    Path sharded = Files.createDirectories(tmp.resolve("sharded"));
    Files.copy(single.resolve("config.json"), sharded.resolve("config.json"));
    StringBuilder index = new StringBuilder("{\"metadata\": {}, \"weight_map\": {");
    try (SafetensorsFile f = SafetensorsFile.open(single.resolve("model.safetensors"))) {
      List<String> names = new ArrayList<>(f.names());
      RawSafetensors[] shards = {new RawSafetensors(), new RawSafetensors()};
      for (int i = 0; i < names.size(); i++) {
        TensorView t = f.tensor(names.get(i));
        int s = i % 2;
        shards[s].put(t.name(), t.dtype().safetensorsName(), t.shape(), t.data().toArray(ValueLayout.JAVA_BYTE));
        index.append(i == 0 ? "" : ", ").append('"').append(t.name()).append("\": \"part-").append(s)
            .append(".safetensors\"");
      }
      shards[0].write(sharded.resolve("part-0.safetensors"));
      shards[1].write(sharded.resolve("part-1.safetensors"));
    }
    Files.writeString(sharded.resolve("model.safetensors.index.json"), index.append("}}").toString());
    try (Checkpoint a = Checkpoint.open(single); Checkpoint b = Checkpoint.open(sharded)) {
      assertFalse(a.sharded());
      assertTrue(b.sharded());
      for (int layer : a.config().moeLayers()) {
        assertArrayEquals(a.router(layer).weight(), b.router(layer).weight());
        for (int e = 0; e < a.config().numExperts(); e++) {
          ExpertWeights x = a.expert(layer, e);
          ExpertWeights y = b.expert(layer, e);
          assertEquals(-1, x.gate().mismatch(y.gate()));
          assertEquals(-1, x.up().mismatch(y.up()));
          assertEquals(-1, x.down().mismatch(y.down()));
        }
      }
    }
  }

  @Test
  void missingConfigJson() throws Exception {
    Path dir = Files.createDirectories(tmp.resolve("empty"));
    var e = assertThrows(InvalidCheckpointException.class, () -> Checkpoint.open(dir));
    assertEquals("checkpoint " + dir + " has no config.json (the directory must be what transformers'"
        + " save_pretrained writes)", e.getMessage());
    var notDir = assertThrows(InvalidCheckpointException.class, () -> Checkpoint.open(tmp.resolve("nope")));
    assertEquals("checkpoint " + tmp.resolve("nope") + " is not a directory", notDir.getMessage());
  }

  @Test
  void noWeightFiles() throws Exception {
    Path dir = Files.createDirectories(tmp.resolve("noweights"));
    Files.writeString(dir.resolve("config.json"), TinyCheckpoint.CONFIG);
    var e = assertThrows(InvalidCheckpointException.class, () -> Checkpoint.open(dir));
    assertEquals("checkpoint " + dir + " has neither model.safetensors nor model.safetensors.index.json",
        e.getMessage());
  }

  @Test
  void unknownArchitecture() throws Exception {
    Path dir = TinyCheckpoint.write(tmp.resolve("llama"), "{\"model_type\": \"llama\"}", TinyCheckpoint.tensors());
    var e = assertThrows(InvalidCheckpointException.class, () -> Checkpoint.open(dir));
    assertEquals(dir.resolve("config.json") + ": unsupported model_type 'llama'; supported model types: mixtral,"
        + " qwen2_moe, qwen3_moe, olmoe, deepseek_v3", e.getMessage());
  }

  @Test
  void missingTensorNamesTensorAndFile() {
    String name = "model.layers.0.block_sparse_moe.experts.1.w2.weight";
    Path dir = TinyCheckpoint.write(tmp.resolve("missing"), TinyCheckpoint.CONFIG, TinyCheckpoint.tensors().remove(name));
    try (Checkpoint ckpt = Checkpoint.open(dir)) {
      assertNotNull(ckpt.expert(0, 0));
      var e = assertThrows(InvalidCheckpointException.class, () -> ckpt.expert(0, 1));
      assertEquals("tensor '" + name + "' is missing from " + dir.resolve("model.safetensors"), e.getMessage());
    }
  }

  @Test
  void missingTensorOfAShardedCheckpoint() throws Exception {
    Path dir = Fixtures.copy("qwen2_moe", tmp.resolve("qwen2"));
    Path index = dir.resolve("model.safetensors.index.json");
    JsonMapper mapper = JsonMapper.builder().build();
    ObjectNode root = (ObjectNode) mapper.readTree(index.toFile());
    ObjectNode map = (ObjectNode) root.get("weight_map");
    String dropped = "model.layers.1.mlp.experts.3.up_proj.weight";
    String moved = "model.layers.1.mlp.experts.4.up_proj.weight";
    map.remove(dropped);
    // Point the index at a shard that does not hold the tensor.
    String wrongShard = map.get(moved).asText().equals("model-00001-of-00005.safetensors")
        ? "model-00002-of-00005.safetensors" : "model-00001-of-00005.safetensors";
    map.put(moved, wrongShard);
    mapper.writeValue(index.toFile(), root);
    try (Checkpoint ckpt = Checkpoint.open(dir)) {
      var e = assertThrows(InvalidCheckpointException.class, () -> ckpt.expert(1, 3));
      assertEquals("tensor '" + dropped + "' is missing: " + index + " does not list it in its weight_map",
          e.getMessage());
      e = assertThrows(InvalidCheckpointException.class, () -> ckpt.expert(1, 4));
      assertEquals("tensor '" + moved + "' is missing from " + dir.resolve(wrongShard)
          + " (where model.safetensors.index.json says it is)", e.getMessage());
    }
  }

  @Test
  void wrongShapeNamesExpectedAndFound() {
    String name = "model.layers.0.block_sparse_moe.gate.weight";
    RawSafetensors t = TinyCheckpoint.tensors().f32(name, new float[12], 3, 4);
    Path dir = TinyCheckpoint.write(tmp.resolve("shape"), TinyCheckpoint.CONFIG, t);
    try (Checkpoint ckpt = Checkpoint.open(dir)) {
      var e = assertThrows(InvalidCheckpointException.class, () -> ckpt.router(0));
      assertEquals("tensor '" + name + "' in " + dir.resolve("model.safetensors") + " has shape [3, 4], expected [2, 4]"
          + " from config.json", e.getMessage());
    }
  }

  @Test
  void nonFloatWeightsAreRefused() {
    String name = "model.layers.0.block_sparse_moe.experts.0.w1.weight";
    RawSafetensors t = TinyCheckpoint.tensors().put(name, "I32", new long[] {2, 4}, RawSafetensors.i32(new int[8]));
    Path dir = TinyCheckpoint.write(tmp.resolve("dtype"), TinyCheckpoint.CONFIG, t);
    try (Checkpoint ckpt = Checkpoint.open(dir)) {
      var e = assertThrows(InvalidCheckpointException.class, () -> ckpt.expert(0, 0));
      assertTrue(e.getMessage().endsWith("has dtype I32; weights must be F32, BF16, F16 or block-fp8 F8_E4M3"),
          e.getMessage());
    }
  }

  @Test
  void layerAndExpertOutOfRange() {
    Path dir = TinyCheckpoint.write(tmp.resolve("range"), TinyCheckpoint.CONFIG, TinyCheckpoint.tensors());
    try (Checkpoint ckpt = Checkpoint.open(dir)) {
      assertEquals("layer 1 is out of range: this mixtral checkpoint has layers 0..0 (MoE layers are 0)",
          assertThrows(IllegalArgumentException.class, () -> ckpt.router(1)).getMessage());
      assertEquals("expert 2 is out of range: layer 0 has experts 0..1",
          assertThrows(IllegalArgumentException.class, () -> ckpt.expert(0, 2)).getMessage());
    }
  }

  @Test
  void bf16WeightsStayBf16AndF16IsWidened() {
    RawSafetensors t = TinyCheckpoint.tensors();
    for (Map.Entry<String, RawSafetensors.Raw> e : List.copyOf(t.tensors().entrySet())) {
      if (e.getKey().contains("experts.0.")) {
        float[] v = floats(e.getValue().data());
        t.put(e.getKey(), "BF16", e.getValue().shape(), RawSafetensors.bf16(v));
      } else if (e.getKey().contains("experts.1.")) {
        float[] v = floats(e.getValue().data());
        t.put(e.getKey(), "F16", e.getValue().shape(), RawSafetensors.f16(v));
      }
    }
    Path dir = TinyCheckpoint.write(tmp.resolve("narrow"), TinyCheckpoint.CONFIG, t);
    try (Checkpoint ckpt = Checkpoint.open(dir)) {
      ExpertWeights bf16 = ckpt.expert(0, 0);
      assertEquals(DType.BF16, bf16.dtype());
      assertTrue(bf16.gate().isMapped(), "bf16 weights are passed as the mapped bytes");
      assertEquals(FloatFormats.roundToBf16(0.1f),
          FloatFormats.bf16ToFloat(bf16.gate().get(ValueLayout.JAVA_SHORT_UNALIGNED, 0)));
      ExpertWeights f16 = ckpt.expert(0, 1);
      assertEquals(DType.F32, f16.dtype());
      float[] want = TinyCheckpoint.values(8, 1.3f);
      float[] got = f16.down().toArray(ValueLayout.JAVA_FLOAT);
      for (int i = 0; i < want.length; i++) {
        assertEquals(Float.float16ToFloat(Float.floatToFloat16(want[i])), got[i]);
      }
    }
  }

  private static final String FP8_CONFIG = "{\"model_type\": \"deepseek_v3\", \"hidden_size\": 5, \"num_hidden_layers\": 1,"
      + " \"first_k_dense_replace\": 0, \"n_routed_experts\": 4, \"n_group\": 2, \"topk_group\": 1,"
      + " \"num_experts_per_tok\": 1, \"moe_intermediate_size\": 3, \"n_shared_experts\": 0%s}";
  private static final String QUANT = ", \"quantization_config\": {\"quant_method\": \"fp8\", \"fmt\": \"e4m3\","
      + " \"weight_block_size\": [2, 2]}";

  /** fp8 [rows, cols] with element (i, j) = 0x38 + (i*cols + j) % 8, i.e. 1 + ((i*cols + j) % 8) / 8. */
  private static byte[] fp8(int rows, int cols) {
    byte[] q = new byte[rows * cols];
    for (int i = 0; i < q.length; i++) {
      q[i] = (byte) (0x38 + i % 8);
    }
    return q;
  }

  private static RawSafetensors fp8Expert(boolean withScales) {
    RawSafetensors t = new RawSafetensors();
    String p = "model.layers.0.mlp.experts.0.";
    t.put(p + "gate_proj.weight", "F8_E4M3", new long[] {3, 5}, fp8(3, 5));
    t.put(p + "up_proj.weight", "F8_E4M3", new long[] {3, 5}, fp8(3, 5));
    t.put(p + "down_proj.weight", "F8_E4M3", new long[] {5, 3}, fp8(5, 3));
    if (withScales) {
      // [ceil(3/2), ceil(5/2)] = [2, 3] and [ceil(5/2), ceil(3/2)] = [3, 2] blocks; the last ones partial.
      t.f32(p + "gate_proj.weight_scale_inv", new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
      t.f32(p + "up_proj.weight_scale_inv", new float[] {0.5f, 0.25f, 8, 16, 32, 64}, 2, 3);
      t.f32(p + "down_proj.weight_scale_inv", new float[] {1, 10, 100, 1000, 0.1f, 0.01f}, 3, 2);
    }
    return t;
  }

  @Test
  void blockFp8IsDequantisedWithPartialEdgeBlocks() {
    Path dir = TinyCheckpoint.write(tmp.resolve("fp8"), FP8_CONFIG.formatted(QUANT), fp8Expert(true));
    try (Checkpoint ckpt = Checkpoint.open(dir)) {
      ExpertWeights w = ckpt.expert(0, 0);
      assertEquals(DType.F32, w.dtype());
      check(w.gate(), 3, 5, new float[] {1, 2, 3, 4, 5, 6}, 3);
      check(w.up(), 3, 5, new float[] {0.5f, 0.25f, 8, 16, 32, 64}, 3);
      check(w.down(), 5, 3, new float[] {1, 10, 100, 1000, 0.1f, 0.01f}, 2);
    }
  }

  private static void check(MemorySegment got, int rows, int cols, float[] scale, int blockCols) {
    float[] w = got.toArray(ValueLayout.JAVA_FLOAT);
    for (int i = 0; i < rows; i++) {
      for (int j = 0; j < cols; j++) {
        float q = 1f + ((i * cols + j) % 8) / 8f;
        assertEquals(q * scale[(i / 2) * blockCols + j / 2], w[i * cols + j], "element " + i + ", " + j);
      }
    }
  }

  @Test
  void fp8NeedsScalesAndAQuantizationConfig() {
    Path noScales = TinyCheckpoint.write(tmp.resolve("noscales"), FP8_CONFIG.formatted(QUANT), fp8Expert(false));
    try (Checkpoint ckpt = Checkpoint.open(noScales)) {
      var e = assertThrows(InvalidCheckpointException.class, () -> ckpt.expert(0, 0));
      assertEquals("tensor 'model.layers.0.mlp.experts.0.gate_proj.weight_scale_inv' is missing from "
          + noScales.resolve("model.safetensors") + ": the F8_E4M3 weight 'model.layers.0.mlp.experts.0.gate_proj.weight'"
          + " needs its block scales", e.getMessage());
    }
    Path noConfig = TinyCheckpoint.write(tmp.resolve("noquant"), FP8_CONFIG.formatted(""), fp8Expert(true));
    try (Checkpoint ckpt = Checkpoint.open(noConfig)) {
      var e = assertThrows(InvalidCheckpointException.class, () -> ckpt.expert(0, 0));
      assertTrue(e.getMessage().endsWith("is F8_E4M3, but config.json has no fp8 quantization_config saying how it"
          + " is scaled"), e.getMessage());
    }
  }

  @Test
  void fp8FixtureIsCloseToTheF32Original() {
    // deepseek_v3_fp8 is deepseek_v3 requantised: dequantised weights are within e4m3's 2^-4 relative step.
    try (Checkpoint f32 = Checkpoint.open(Fixtures.dir("deepseek_v3"));
        Checkpoint fp8 = Checkpoint.open(Fixtures.dir("deepseek_v3_fp8"))) {
      float[] a = f32.expert(1, 5).down().toArray(ValueLayout.JAVA_FLOAT);
      float[] b = fp8.expert(1, 5).down().toArray(ValueLayout.JAVA_FLOAT);
      double maxW = Fixtures.maxAbs(a);
      double err = Fixtures.maxAbsDiff(a, b);
      assertTrue(err > 0, "the fp8 fixture is quantised");
      assertTrue(err <= maxW / 16, "dequantised error " + err + " vs max weight " + maxW);
      assertNull(f32.sharedGate(1));
    }
  }

  private static float[] floats(byte[] le) {
    float[] v = new float[le.length / 4];
    MemorySegment.ofArray(le).asByteBuffer().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(v);
    return v;
  }
}

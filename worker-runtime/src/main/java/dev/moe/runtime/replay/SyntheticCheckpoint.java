package dev.moe.runtime.replay;

import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moe.runtime.model.Architecture;
import dev.moe.runtime.model.Checkpoint;
import dev.moe.runtime.model.ExpertWeights;
import dev.moe.runtime.model.TensorNames;
import dev.moe.runtime.tensor.SafetensorsWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;

/**
 * A checkpoint directory in DeepSeek-V3's real layout (61 layers, the first 3 dense, 256 routed
 * experts in 8 groups, top-8 from the best 4 groups, one shared expert, sigmoid scores with a
 * correction bias) with only the hidden sizes shrunk, and random weights under the tensor names
 * transformers' {@code save_pretrained} writes. It lets a machine without the real 671B weights
 * run every expert of every MoE layer, so that DeepSeek-V3's measured routing can be replayed
 * through it unchanged.
 */
public final class SyntheticCheckpoint {

  public static final int LAYERS = 61;
  public static final int FIRST_DENSE = 3;
  public static final int EXPERTS = 256;
  public static final int TOP_K = 8;

  private SyntheticCheckpoint() {}

  /**
   * Writes {@code config.json} and {@code model.safetensors} (MoE blocks only: routers, routed and
   * shared experts; nothing else is read by a worker) into {@code dir}.
   */
  public static void writeDeepSeekV3(Path dir, int hidden, int inter, long seed) {
    ObjectNode config = JsonMapper.builder().build().createObjectNode()
        .put("model_type", "deepseek_v3")
        .put("hidden_size", hidden)
        .put("num_hidden_layers", LAYERS)
        .put("first_k_dense_replace", FIRST_DENSE)
        .put("moe_layer_freq", 1)
        .put("n_routed_experts", EXPERTS)
        .put("num_experts_per_tok", TOP_K)
        .put("n_group", 8)
        .put("topk_group", 4)
        .put("n_shared_experts", 1)
        .put("moe_intermediate_size", inter)
        .put("norm_topk_prob", true)
        .put("routed_scaling_factor", 2.5)
        .put("scoring_func", "sigmoid")
        .put("torch_dtype", "float32");
    config.putArray("architectures").add("DeepseekV3ForCausalLM");
    int[] moeLayers = new int[LAYERS - FIRST_DENSE];
    for (int i = 0; i < moeLayers.length; i++) {
      moeLayers[i] = FIRST_DENSE + i;
    }
    SyntheticModel weights = new SyntheticModel(LAYERS, moeLayers, EXPERTS, TOP_K, hidden, inter, seed);
    TensorNames names = TensorNames.of(Architecture.DEEPSEEK_V3);
    SafetensorsWriter out = new SafetensorsWriter();
    SplittableRandom r = new SplittableRandom(seed);
    for (int l : moeLayers) {
      out.add(names.router(l), SyntheticModel.random(r, EXPERTS * hidden, 1 / Math.sqrt(hidden)), EXPERTS, hidden);
      out.add(names.routerBias(l), SyntheticModel.random(r, EXPERTS, 0.01), EXPERTS);
      for (int e = 0; e < EXPERTS; e++) {
        ExpertWeights w = weights.expert(l, e);
        out.add(names.expertGate(l, e), w.gate().toArray(ValueLayout.JAVA_FLOAT), inter, hidden);
        out.add(names.expertUp(l, e), w.up().toArray(ValueLayout.JAVA_FLOAT), inter, hidden);
        out.add(names.expertDown(l, e), w.down().toArray(ValueLayout.JAVA_FLOAT), hidden, inter);
      }
      out.add(names.sharedGate(l), SyntheticModel.random(r, inter * hidden, 1 / Math.sqrt(hidden)), inter, hidden);
      out.add(names.sharedUp(l), SyntheticModel.random(r, inter * hidden, 1 / Math.sqrt(hidden)), inter, hidden);
      out.add(names.sharedDown(l), SyntheticModel.random(r, hidden * inter, 1 / Math.sqrt(inter)), hidden, inter);
    }
    try {
      Files.createDirectories(dir);
      Files.writeString(dir.resolve(Checkpoint.CONFIG), config.toPrettyString());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + dir.resolve(Checkpoint.CONFIG), e);
    }
    out.write(dir.resolve(Checkpoint.SINGLE));
  }
}

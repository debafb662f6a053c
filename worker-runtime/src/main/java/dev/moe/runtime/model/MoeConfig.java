package dev.moe.runtime.model;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;

/**
 * What the worker needs from a checkpoint's config.json: the MoE block's shapes, its router, and
 * which decoder layers have an MoE block. Keys missing from the file take transformers' defaults
 * for the architecture, because {@code save_pretrained} leaves out every value equal to them.
 */
public final class MoeConfig {

  private static final JsonMapper MAPPER = JsonMapper.builder().build();

  private final Architecture architecture;
  private final int hiddenSize;
  private final int numLayers;
  private final int numExperts;
  private final int topK;
  private final int expertIntermediateSize;
  private final int sharedIntermediateSize;
  private final boolean sharedGate;
  private final RouterKind routerKind;
  private final boolean normTopkProb;
  private final int nGroup;
  private final int topkGroup;
  private final float routedScalingFactor;
  private final boolean[] moeLayer;
  private final int[] fp8BlockSize;

  private MoeConfig(Builder b) {
    this.architecture = b.architecture;
    this.hiddenSize = b.hiddenSize;
    this.numLayers = b.numLayers;
    this.numExperts = b.numExperts;
    this.topK = b.topK;
    this.expertIntermediateSize = b.expertIntermediateSize;
    this.sharedIntermediateSize = b.sharedIntermediateSize;
    this.sharedGate = b.sharedGate;
    this.routerKind = b.routerKind;
    this.normTopkProb = b.normTopkProb;
    this.nGroup = b.nGroup;
    this.topkGroup = b.topkGroup;
    this.routedScalingFactor = b.routedScalingFactor;
    this.moeLayer = b.moeLayer;
    this.fp8BlockSize = b.fp8BlockSize;
  }

  /** Reads {@code configJson}; every problem is an {@link InvalidCheckpointException} naming the file. */
  public static MoeConfig read(Path configJson) {
    JsonNode root;
    try {
      root = MAPPER.readTree(Files.readAllBytes(configJson));
    } catch (NoSuchFileException e) {
      throw new InvalidCheckpointException(configJson + ": no such file (a checkpoint directory needs the config.json"
          + " that transformers' save_pretrained writes)");
    } catch (JsonProcessingException e) {
      throw new InvalidCheckpointException(configJson + ": not valid JSON: "
          + e.getOriginalMessage().replaceAll("\\s*\\R\\s*", " "));
    } catch (IOException e) {
      throw new InvalidCheckpointException(configJson + ": cannot read: " + e.getMessage(), e);
    }
    return parse(root, configJson.toString());
  }

  /** Parses a config.json tree; {@code source} names it in error messages. */
  public static MoeConfig parse(JsonNode root, String source) {
    if (root == null || !root.isObject()) {
      throw new InvalidCheckpointException(source + ": not a JSON object");
    }
    ConfigFields f = new ConfigFields(root, source);
    String modelType = f.string("model_type", null);
    if (modelType == null) {
      throw new InvalidCheckpointException(source + ": no \"model_type\"; supported model types: "
          + Architecture.supported());
    }
    Architecture arch = Architecture.fromModelType(modelType);
    if (arch == null) {
      throw new InvalidCheckpointException(source + ": unsupported model_type '" + modelType
          + "'; supported model types: " + Architecture.supported());
    }
    String act = f.string("hidden_act", "silu");
    if (!act.equals("silu")) {
      throw new InvalidCheckpointException(source + ": hidden_act '" + act
          + "' is not supported; the expert kernels implement SwiGLU (silu)");
    }
    Builder b = new Builder();
    b.architecture = arch;
    switch (arch) {
      case MIXTRAL -> {
        b.hiddenSize = f.positive("hidden_size", 4096);
        b.numLayers = f.positive("num_hidden_layers", 32);
        b.numExperts = f.positive("num_local_experts", 8);
        b.topK = f.positive("num_experts_per_tok", 2);
        b.expertIntermediateSize = f.positive("intermediate_size", 14336);
        b.routerKind = RouterKind.SOFTMAX_TOPK;
        // Mixtral's block always renormalises the top-k probabilities.
        b.normTopkProb = true;
        b.moeLayer = all(b.numLayers);
      }
      case QWEN2_MOE, QWEN3_MOE -> {
        boolean qwen2 = arch == Architecture.QWEN2_MOE;
        b.hiddenSize = f.positive("hidden_size", 2048);
        b.numLayers = f.positive("num_hidden_layers", 24);
        // transformers 5.x saves Qwen-MoE's num_experts as num_local_experts.
        b.numExperts = f.has("num_local_experts") ? f.nonNegative("num_local_experts", 0)
            : f.nonNegative("num_experts", qwen2 ? 60 : 128);
        b.topK = f.positive("num_experts_per_tok", qwen2 ? 4 : 8);
        b.expertIntermediateSize = f.positive("moe_intermediate_size", qwen2 ? 1408 : 768);
        if (qwen2) {
          b.sharedIntermediateSize = f.positive("shared_expert_intermediate_size", 5632);
          b.sharedGate = true;
        }
        b.routerKind = RouterKind.SOFTMAX_TOPK;
        b.normTopkProb = f.bool("norm_topk_prob", false);
        int step = f.positive("decoder_sparse_step", 1);
        Set<Integer> mlpOnly = f.intSet("mlp_only_layers");
        b.moeLayer = new boolean[b.numLayers];
        for (int l = 0; l < b.numLayers; l++) {
          // As Qwen2MoeDecoderLayer / Qwen3MoeDecoderLayer decide.
          b.moeLayer[l] = !mlpOnly.contains(l) && b.numExperts > 0 && (l + 1) % step == 0;
        }
      }
      case OLMOE -> {
        b.hiddenSize = f.positive("hidden_size", 2048);
        b.numLayers = f.positive("num_hidden_layers", 16);
        b.numExperts = f.positive("num_experts", 64);
        b.topK = f.positive("num_experts_per_tok", 8);
        b.expertIntermediateSize = f.positive("intermediate_size", 2048);
        b.routerKind = RouterKind.SOFTMAX_TOPK;
        b.normTopkProb = f.bool("norm_topk_prob", false);
        b.moeLayer = all(b.numLayers);
      }
      case DEEPSEEK_V3 -> {
        b.hiddenSize = f.positive("hidden_size", 7168);
        b.numLayers = f.positive("num_hidden_layers", 61);
        b.numExperts = f.positive("n_routed_experts", 256);
        b.topK = f.positive("num_experts_per_tok", 8);
        b.expertIntermediateSize = f.positive("moe_intermediate_size", 2048);
        b.sharedIntermediateSize = Math.multiplyExact(b.expertIntermediateSize, f.nonNegative("n_shared_experts", 1));
        b.routerKind = RouterKind.SIGMOID_GROUP_TOPK;
        b.normTopkProb = f.bool("norm_topk_prob", true);
        b.nGroup = f.positive("n_group", 8);
        b.topkGroup = f.positive("topk_group", 4);
        b.routedScalingFactor = (float) f.number("routed_scaling_factor", 2.5);
        int firstDense = f.nonNegative("first_k_dense_replace", 3);
        int freq = f.positive("moe_layer_freq", 1);
        b.moeLayer = new boolean[b.numLayers];
        for (int l = 0; l < b.numLayers; l++) {
          // DeepSeek's rule; transformers implements the moe_layer_freq = 1 case of it.
          b.moeLayer[l] = l >= firstDense && l % freq == 0;
        }
        if (b.numExperts % b.nGroup != 0) {
          throw new InvalidCheckpointException(source + ": n_routed_experts " + b.numExperts
              + " is not a multiple of n_group " + b.nGroup);
        }
        if (b.topkGroup > b.nGroup) {
          throw new InvalidCheckpointException(source + ": topk_group " + b.topkGroup + " exceeds n_group " + b.nGroup);
        }
        if (b.numExperts / b.nGroup < 2) {
          throw new InvalidCheckpointException(source + ": groups of " + b.numExperts / b.nGroup
              + " expert(s); group scores need at least 2 experts per group");
        }
        if (b.topK > b.topkGroup * (b.numExperts / b.nGroup)) {
          throw new InvalidCheckpointException(source + ": num_experts_per_tok " + b.topK + " exceeds the "
              + b.topkGroup * (b.numExperts / b.nGroup) + " experts of the topk_group best groups");
        }
      }
    }
    if (b.numExperts > 0 && b.topK > b.numExperts) {
      throw new InvalidCheckpointException(source + ": num_experts_per_tok " + b.topK + " exceeds the "
          + b.numExperts + " experts");
    }
    b.fp8BlockSize = fp8BlockSize(root.get("quantization_config"), source);
    return new MoeConfig(b);
  }

  private static int[] fp8BlockSize(JsonNode q, String source) {
    if (q == null || q.isNull()) {
      return null;
    }
    String method = q.path("quant_method").asText("");
    if (!method.equals("fp8")) {
      throw new InvalidCheckpointException(source + ": quantization_config.quant_method '" + method
          + "' is not supported; only block-wise fp8 ('fp8' with weight_block_size, as DeepSeek-V3) is");
    }
    JsonNode block = q.get("weight_block_size");
    if (block == null || block.isNull()) {
      return new int[] {128, 128};
    }
    if (!block.isArray() || block.size() != 2 || !block.get(0).isInt() || !block.get(1).isInt()
        || block.get(0).asInt() <= 0 || block.get(1).asInt() <= 0) {
      throw new InvalidCheckpointException(source + ": quantization_config.weight_block_size " + block
          + " is not two positive integers");
    }
    return new int[] {block.get(0).asInt(), block.get(1).asInt()};
  }

  private static boolean[] all(int layers) {
    boolean[] moe = new boolean[layers];
    Arrays.fill(moe, true);
    return moe;
  }

  public Architecture architecture() {
    return architecture;
  }

  public int hiddenSize() {
    return hiddenSize;
  }

  /** Decoder layers of the model (MoE or dense). */
  public int numLayers() {
    return numLayers;
  }

  /** Routed experts per MoE layer. */
  public int numExperts() {
    return numExperts;
  }

  /** Experts each token is routed to. */
  public int topK() {
    return topK;
  }

  /** Intermediate size of one routed expert. */
  public int expertIntermediateSize() {
    return expertIntermediateSize;
  }

  /** Intermediate size of the shared expert(s) as one FFN (DeepSeek: n_shared_experts of them fused), 0 for none. */
  public int sharedIntermediateSize() {
    return sharedIntermediateSize;
  }

  public boolean hasSharedExpert() {
    return sharedIntermediateSize > 0;
  }

  /** Whether the shared expert's output is scaled by {@code sigmoid(x @ shared_expert_gate^T)} (Qwen2-MoE). */
  public boolean hasSharedGate() {
    return sharedGate;
  }

  public RouterKind routerKind() {
    return routerKind;
  }

  /** Whether the top-k weights are divided by their sum. */
  public boolean normTopkProb() {
    return normTopkProb;
  }

  /** DeepSeek-V3: expert groups (0 for other routers). */
  public int nGroup() {
    return nGroup;
  }

  /** DeepSeek-V3: groups a token may route into. */
  public int topkGroup() {
    return topkGroup;
  }

  /** DeepSeek-V3: factor on the final routing weights (1 for other routers). */
  public float routedScalingFactor() {
    return routedScalingFactor;
  }

  /** Whether decoder layer {@code layer} has an MoE block (false out of range). */
  public boolean isMoeLayer(int layer) {
    return layer >= 0 && layer < numLayers && moeLayer[layer];
  }

  /**
   * Why {@code layer} has no MoE block to run, as a message for the user, or null when it has one:
   * out of range, or a dense MLP layer.
   */
  public String moeLayerProblem(int layer) {
    String arch = architecture.modelType();
    if (layer < 0 || layer >= numLayers) {
      return "layer " + layer + " is out of range: this " + arch + " checkpoint has layers 0.." + (numLayers - 1)
          + " (MoE layers are " + describeMoeLayers() + ")";
    }
    if (!moeLayer[layer]) {
      return "layer " + layer + " of this " + arch + " checkpoint is a dense MLP layer, not MoE; MoE layers are "
          + describeMoeLayers();
    }
    return null;
  }

  /** The MoE layers in increasing order. */
  public int[] moeLayers() {
    List<Integer> layers = new ArrayList<>();
    for (int l = 0; l < numLayers; l++) {
      if (moeLayer[l]) {
        layers.add(l);
      }
    }
    return layers.stream().mapToInt(Integer::intValue).toArray();
  }

  /** The MoE layers as ranges, e.g. {@code 1..2} or {@code 0, 2..5}; {@code none} when there are none. */
  public String describeMoeLayers() {
    int[] layers = moeLayers();
    if (layers.length == 0) {
      return "none";
    }
    StringBuilder sb = new StringBuilder();
    int start = 0;
    for (int i = 1; i <= layers.length; i++) {
      if (i == layers.length || layers[i] != layers[i - 1] + 1) {
        if (!sb.isEmpty()) {
          sb.append(", ");
        }
        sb.append(layers[start]);
        if (i - 1 > start) {
          sb.append("..").append(layers[i - 1]);
        }
        start = i;
      }
    }
    return sb.toString();
  }

  /** The fp8 block size {@code [rows, cols]} of the weight scales when the checkpoint is block-fp8, else null. */
  public int[] fp8BlockSize() {
    return fp8BlockSize == null ? null : fp8BlockSize.clone();
  }

  private static final class Builder {
    Architecture architecture;
    int hiddenSize;
    int numLayers;
    int numExperts;
    int topK;
    int expertIntermediateSize;
    int sharedIntermediateSize;
    boolean sharedGate;
    RouterKind routerKind;
    boolean normTopkProb;
    int nGroup;
    int topkGroup;
    float routedScalingFactor = 1f;
    boolean[] moeLayer;
    int[] fp8BlockSize;
  }
}

package dev.moe.runtime.model;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * The whole decoder as config.json (and generation_config.json) describe it: the MoE blocks
 * ({@link MoeConfig}), attention, RoPE, norms, dense MLP layers, vocabulary and the tokens that end
 * generation. Keys missing from the file take transformers' defaults for the architecture;
 * transformers 4.x and 5.x spellings are both read.
 */
public final class ModelConfig {

  public static final String GENERATION_CONFIG = "generation_config.json";

  private static final JsonMapper MAPPER = JsonMapper.builder().build();

  /** How the layer computes attention (also what the native attention is configured with). */
  public enum AttentionKind {
    /** Grouped-query attention (multi-head when kvHeads == heads). */
    GQA,
    /** DeepSeek's multi-head latent attention with a compressed KV cache. */
    MLA
  }

  /** Normalisation of queries and keys before RoPE. */
  public enum QkNorm {
    NONE,
    /** Per head over head_dim (Qwen3-MoE). */
    HEAD,
    /** Over the whole q and k projections (OLMoE). */
    ALL
  }

  /**
   * The attention of every layer.
   *
   * @param qkvBias q, k and v projections have biases (MLA: q_a and kv_a projections)
   * @param outputBias the output projection has a bias
   * @param clipQkv > 0: q, k and v clamped to [-clipQkv, clipQkv] (OLMoE)
   * @param normEps epsilon of the q/k norms (MLA: of the q_a and kv_a latent norms)
   * @param qLoraRank MLA: 0 when queries come from q_proj directly
   */
  public record Attention(AttentionKind kind, int heads, int kvHeads, int headDim, boolean qkvBias,
      boolean outputBias, QkNorm qkNorm, float clipQkv, int qLoraRank, int kvLoraRank, int qkNopeHeadDim,
      int qkRopeHeadDim, int vHeadDim, float softmaxScale, float normEps) {

    /** Width of the attention output that the output projection reads. */
    public int outputWidth() {
      return kind == AttentionKind.MLA ? heads * vHeadDim : heads * headDim;
    }
  }

  private final MoeConfig moe;
  private final int vocabSize;
  private final int intermediateSize;
  private final float rmsNormEps;
  private final boolean tieWordEmbeddings;
  private final int maxPositionEmbeddings;
  private final Attention attention;
  private final RopeParameters rope;
  private final int[] slidingWindow;
  private final int[] eosTokenIds;

  private ModelConfig(MoeConfig moe, int vocabSize, int intermediateSize, float rmsNormEps, boolean tieWordEmbeddings,
      int maxPositionEmbeddings, Attention attention, RopeParameters rope, int[] slidingWindow, int[] eosTokenIds) {
    this.moe = moe;
    this.vocabSize = vocabSize;
    this.intermediateSize = intermediateSize;
    this.rmsNormEps = rmsNormEps;
    this.tieWordEmbeddings = tieWordEmbeddings;
    this.maxPositionEmbeddings = maxPositionEmbeddings;
    this.attention = attention;
    this.rope = rope;
    this.slidingWindow = slidingWindow;
    this.eosTokenIds = eosTokenIds;
  }

  /** Reads {@code dir}'s config.json and, when present, generation_config.json. */
  public static ModelConfig read(Path dir) {
    Path config = dir.resolve(Checkpoint.CONFIG);
    Path generation = dir.resolve(GENERATION_CONFIG);
    JsonNode root = readJson(config);
    JsonNode gen = Files.isRegularFile(generation) ? readJson(generation) : null;
    return parse(root, config.toString(), gen, generation.toString());
  }

  private static JsonNode readJson(Path file) {
    try {
      return MAPPER.readTree(Files.readAllBytes(file));
    } catch (JsonProcessingException e) {
      throw new InvalidCheckpointException(file + ": not valid JSON: " + e.getOriginalMessage().replaceAll("\\s*\\R\\s*", " "));
    } catch (IOException e) {
      throw new InvalidCheckpointException(file + ": cannot read: " + e.getMessage(), e);
    }
  }

  /** Parses config.json ({@code root}) and generation_config.json ({@code generation}, may be null). */
  public static ModelConfig parse(JsonNode root, String source, JsonNode generation, String generationSource) {
    MoeConfig moe = MoeConfig.parse(root, source);
    ConfigFields f = new ConfigFields(root, source);
    Architecture arch = moe.architecture();
    int hidden = moe.hiddenSize();
    int layers = moe.numLayers();
    int vocab = f.positive("vocab_size", switch (arch) {
      case MIXTRAL -> 32000;
      case QWEN2_MOE, QWEN3_MOE -> 151936;
      case OLMOE -> 50304;
      case DEEPSEEK_V3 -> 129280;
    });
    int intermediate = f.positive("intermediate_size", switch (arch) {
      case MIXTRAL -> 14336;
      case QWEN2_MOE -> 5632;
      case QWEN3_MOE -> 6144;
      case OLMOE -> 2048;
      case DEEPSEEK_V3 -> 18432;
    });
    float eps = (float) f.number("rms_norm_eps", arch == Architecture.MIXTRAL || arch == Architecture.OLMOE ? 1e-5 : 1e-6);
    int maxPositions = f.positive("max_position_embeddings", switch (arch) {
      case MIXTRAL -> 4096 * 32;
      case QWEN2_MOE, QWEN3_MOE -> 32768;
      case OLMOE, DEEPSEEK_V3 -> 4096;
    });
    int heads = f.positive("num_attention_heads", switch (arch) {
      case MIXTRAL, QWEN3_MOE -> 32;
      case QWEN2_MOE, OLMOE -> 16;
      case DEEPSEEK_V3 -> 128;
    });
    int kvHeads = f.positive("num_key_value_heads", switch (arch) {
      case MIXTRAL -> 8;
      case QWEN3_MOE -> 4;
      default -> heads;
    });
    Attention attention;
    RopeParameters rope;
    if (arch == Architecture.DEEPSEEK_V3) {
      int qLora = f.nonNegative("q_lora_rank", 1536);  // null (no q LoRA) reads as the default only when absent
      if (root.has("q_lora_rank") && root.get("q_lora_rank").isNull()) {
        qLora = 0;
      }
      int kvLora = f.positive("kv_lora_rank", 512);
      int nope = f.positive("qk_nope_head_dim", 128);
      int ropeDim = f.positive("qk_rope_head_dim", 64);
      int vDim = f.positive("v_head_dim", 128);
      rope = RopeParameters.parse(f, ropeDim, maxPositions, f.bool("rope_interleave", true));
      double scale = Math.pow(nope + ropeDim, -0.5);
      JsonNode scaling = ropeScalingObject(root);
      if (scaling != null) {
        // DeepseekV3Attention: the softmax scale takes YaRN's mscale squared when mscale_all_dim is set.
        double mscaleAllDim = scaling.path("mscale_all_dim").asDouble(0);
        if (mscaleAllDim != 0) {
          double m = RopeParameters.yarnMscale(scaling.path("factor").asDouble(1), mscaleAllDim);
          scale = scale * m * m;
        }
      }
      boolean bias = f.bool("attention_bias", false);
      // DeepseekV3RMSNorm's own default, not rms_norm_eps, for the latent norms.
      attention = new Attention(AttentionKind.MLA, heads, heads, nope + ropeDim, bias, bias, QkNorm.NONE, 0f, qLora,
          kvLora, nope, ropeDim, vDim, (float) scale, 1e-6f);
    } else {
      if (heads % kvHeads != 0) {
        throw new InvalidCheckpointException(source + ": num_attention_heads " + heads
            + " is not a multiple of num_key_value_heads " + kvHeads);
      }
      int headDim = f.positive("head_dim", hidden / heads);
      if (!f.has("head_dim") && hidden % heads != 0) {
        throw new InvalidCheckpointException(source + ": hidden_size " + hidden + " is not a multiple of"
            + " num_attention_heads " + heads + " and no head_dim is given");
      }
      boolean qkvBias = switch (arch) {
        case QWEN2_MOE -> f.bool("qkv_bias", true);
        case QWEN3_MOE, OLMOE -> f.bool("attention_bias", false);
        default -> false;
      };
      boolean outputBias = arch != Architecture.QWEN2_MOE && qkvBias;
      QkNorm qkNorm = switch (arch) {
        case QWEN3_MOE -> QkNorm.HEAD;
        case OLMOE -> QkNorm.ALL;
        default -> QkNorm.NONE;
      };
      float clip = arch == Architecture.OLMOE && f.has("clip_qkv") ? (float) f.number("clip_qkv", 0) : 0f;
      rope = RopeParameters.parse(f, headDim, maxPositions, false);
      attention = new Attention(AttentionKind.GQA, heads, kvHeads, headDim, qkvBias, outputBias, qkNorm, clip, 0, 0, 0,
          0, headDim, (float) Math.pow(headDim, -0.5), eps);
    }
    int[] window = slidingWindows(f, arch, layers);
    boolean tie = f.bool("tie_word_embeddings", false);
    int[] eos = eosIds(generation, generationSource);
    if (eos == null) {
      eos = eosIds(root, source);
    }
    return new ModelConfig(moe, vocab, intermediate, eps, tie, maxPositions, attention, rope, window,
        eos == null ? new int[0] : eos);
  }

  /** The rope scaling object of either spelling, or null. */
  private static JsonNode ropeScalingObject(JsonNode root) {
    JsonNode params = root.get("rope_parameters");
    JsonNode s = params != null && !params.isNull() ? params : root.get("rope_scaling");
    return s == null || s.isNull() || !s.isObject() ? null : s;
  }

  /**
   * Per layer the sliding window (0: none), as transformers 4.57 applies it: Mixtral everywhere
   * when set; Qwen when use_sliding_window, from max_window_layers on (Qwen2-MoE) or everywhere
   * (Qwen3-MoE); a 5.x {@code layer_types} list says it per layer.
   */
  private static int[] slidingWindows(ConfigFields f, Architecture arch, int layers) {
    int[] window = new int[layers];
    if (arch == Architecture.OLMOE || arch == Architecture.DEEPSEEK_V3) {
      return window;
    }
    boolean qwen = arch == Architecture.QWEN2_MOE || arch == Architecture.QWEN3_MOE;
    if (qwen && !f.bool("use_sliding_window", false)) {
      return window;
    }
    if (!f.has("sliding_window")) {
      return window;
    }
    int size = f.positive("sliding_window", 4096);
    JsonNode types = f.root().get("layer_types");
    int from = arch == Architecture.QWEN2_MOE ? f.nonNegative("max_window_layers", 28) : 0;
    for (int l = 0; l < layers; l++) {
      boolean sliding;
      if (types != null && types.isArray() && types.size() == layers) {
        sliding = "sliding_attention".equals(types.get(l).asText());
      } else {
        sliding = l >= from;
      }
      window[l] = sliding ? size : 0;
    }
    return window;
  }

  /** {@code eos_token_id} as one id or a list; null when absent. */
  private static int[] eosIds(JsonNode root, String source) {
    if (root == null) {
      return null;
    }
    JsonNode n = root.get("eos_token_id");
    if (n == null || n.isNull()) {
      return null;
    }
    Set<Integer> ids = new LinkedHashSet<>();
    List<JsonNode> items = new ArrayList<>();
    if (n.isArray()) {
      n.forEach(items::add);
    } else {
      items.add(n);
    }
    for (JsonNode item : items) {
      if (!item.isIntegralNumber() || item.asInt() < 0) {
        throw new InvalidCheckpointException(source + ": \"eos_token_id\" is " + n + ", expected a token id or a list of them");
      }
      ids.add(item.asInt());
    }
    return ids.stream().mapToInt(Integer::intValue).toArray();
  }

  public MoeConfig moe() {
    return moe;
  }

  public Architecture architecture() {
    return moe.architecture();
  }

  public int hiddenSize() {
    return moe.hiddenSize();
  }

  public int numLayers() {
    return moe.numLayers();
  }

  public int vocabSize() {
    return vocabSize;
  }

  /** Width of the dense SwiGLU MLP of layers without an MoE block. */
  public int intermediateSize() {
    return intermediateSize;
  }

  public float rmsNormEps() {
    return rmsNormEps;
  }

  /** Whether the LM head is the token embedding (no lm_head.weight in the checkpoint). */
  public boolean tieWordEmbeddings() {
    return tieWordEmbeddings;
  }

  public int maxPositionEmbeddings() {
    return maxPositionEmbeddings;
  }

  public Attention attention() {
    return attention;
  }

  public RopeParameters rope() {
    return rope;
  }

  /** The sliding window of layer {@code layer}, 0 for full attention. */
  public int slidingWindow(int layer) {
    return slidingWindow[layer];
  }

  /** Tokens that end generation: generation_config.json's eos_token_id, else config.json's. */
  public int[] eosTokenIds() {
    return eosTokenIds.clone();
  }
}

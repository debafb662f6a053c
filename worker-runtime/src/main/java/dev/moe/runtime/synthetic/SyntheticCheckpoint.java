package dev.moe.runtime.synthetic;

import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moe.runtime.model.Architecture;
import dev.moe.runtime.model.Checkpoint;
import dev.moe.runtime.model.ModelConfig;
import dev.moe.runtime.model.TensorNames;
import dev.moe.runtime.tensor.SafetensorsWriter;
import dev.moe.stats.RoutingStats;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.stream.Stream;

/**
 * A servable DeepSeek-V3 in the real model's layout with small widths: 61 layers, the first 3
 * dense, 256 routed experts in 8 groups (top-8 from the best 4 groups, sigmoid scores with a
 * correction bias), one shared expert, multi-head latent attention; hidden size {@value #HIDDEN},
 * expert width {@value #EXPERT_WIDTH}. Written as transformers' {@code DeepseekV3ForCausalLM.save_pretrained}
 * writes it (config.json, generation_config.json, two safetensors shards and their index) with a
 * byte-level tokenizer and DeepSeek-V3's chat template, so {@code generate} and {@code serve --api}
 * run it.
 *
 * <p>Its weights are made so that its own routing follows measured statistics: the routers are
 * fitted so that the tokens of {@link PromptKind#DECODE} prompts are routed as one set of counts
 * and those of {@link PromptKind#PREFILL} prompts as another (SGLang's decode and prefill dumps,
 * for the demo's traffic shift). How:
 * <ul>
 *   <li>The residual stream's coordinate {@code k} (0 or 1) carries kind {@code k}: a word's
 *       embedding is that unit coordinate plus a unit vector of its own in the other coordinates.
 *       The dense layers' attention averages the kind coordinates over the sequence, so the chat
 *       template's tokens take on their prompt's kind too; nothing else writes them.
 *   <li>Every other block writes little into the residual stream, so an MoE layer's router sees
 *       the token's kind and its own vector nearly as embedded.
 *   <li>A router row is {@code (a_e, b_e, r_e)}: the offsets {@code a_e} and {@code b_e} set expert
 *       e's share of each kind's tokens, the random {@code r_e} spreads a kind's tokens over the
 *       experts by their own vectors. {@link RouterFit} calibrates the offsets against the
 *       routing that the model's forward pass on a worker actually does.
 *   <li>The LM head scores only the words of the kind the last position carries, the next word of a
 *       fixed cycle through them highest, so generation stays in the prompt's kind and runs through
 *       its words evenly instead of repeating one.
 * </ul>
 * The same seed and statistics give the same files on a given machine.
 */
public final class SyntheticCheckpoint {

  public static final int LAYERS = 61;
  public static final int FIRST_DENSE = 3;
  public static final int EXPERTS = 256;
  public static final int TOP_K = 8;
  public static final int HIDDEN = 32;
  public static final int EXPERT_WIDTH = 16;
  static final int GROUPS = 8;
  static final int TOPK_GROUPS = 4;
  static final float ROUTED_SCALING = 2.5f;
  private static final int DENSE_WIDTH = 64;
  private static final int HEADS = 2;
  private static final int Q_LORA = 16;
  private static final int KV_LORA = 16;
  private static final int NOPE = 8;
  private static final int ROPE = 8;
  private static final int V_DIM = 8;
  /** Coordinates from here on hold a token's own vector; those below, the kinds. */
  static final int FIRST_FREE = 2;

  /** How much of the sequence's mean kind each dense layer's attention adds. */
  private static final double KIND_SPREAD = 0.03;
  /** Scales of what blocks write into the free coordinates: small, so routers see the embedding. */
  private static final double ATTENTION_OUT = 0.003;
  private static final double DENSE_OUT = 0.0015;
  private static final double EXPERT_OUT = 0.003;
  /** The chat template's and other tokens' own vectors are short: their kind comes from the context. */
  private static final double OTHER_TOKEN = 0.05;
  /** LM head: weight of the kind, and of the next word's vector. */
  private static final double HEAD_KIND = 10;
  private static final double HEAD_NEXT = 4;

  static final String WEIGHTS = "model-00001-of-00002.safetensors";
  static final String ROUTERS = "model-00002-of-00002.safetensors";

  private SyntheticCheckpoint() {}

  /**
   * Writes the checkpoint into {@code dir} with routers fitted to route {@link PromptKind#DECODE}
   * tokens as {@code decode} counts and {@link PromptKind#PREFILL} tokens as {@code prefill} counts
   * (DeepSeek-V3's shape: 61 layers x 256 experts, layers 0..2 dense); returns the fit as measured
   * through a worker's forward pass. {@code dir} must be empty or absent. Takes about half a minute
   * on 2 cores: the fit runs the model three times.
   */
  public static RoutingFit write(Path dir, RoutingStats decode, RoutingStats prefill, long seed) {
    RouterFit fit = new RouterFit(decode, prefill, seed);
    SyntheticTokenizer tokenizer = new SyntheticTokenizer();
    try {
      Files.createDirectories(dir);
      try (Stream<Path> files = Files.list(dir)) {
        if (files.findAny().isPresent()) {
          throw new IllegalArgumentException(dir + " is not empty; the synthetic checkpoint is written into an empty"
              + " directory, so that no other checkpoint's files mix with it");
        }
      }
      Files.writeString(dir.resolve(Checkpoint.CONFIG), config(tokenizer).toPrettyString());
      Files.writeString(dir.resolve(ModelConfig.GENERATION_CONFIG), JsonMapper.builder().build().createObjectNode()
          .put("bos_token_id", tokenizer.bos()).put("eos_token_id", tokenizer.eos())
          .put("transformers_version", "4.57.6").toPrettyString());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write the checkpoint into " + dir + ": " + e.getMessage(), e);
    }
    tokenizer.write(dir);
    SafetensorsWriter weights = weights(tokenizer, new SplittableRandom(seed));
    weights.write(dir.resolve(WEIGHTS));
    writeIndex(dir, weights);
    return fit.fit(dir, tokenizer);
  }

  /** The shard index, as save_pretrained writes it: total bytes, and each tensor's shard. */
  private static void writeIndex(Path dir, SafetensorsWriter weights) {
    ObjectNode index = JsonMapper.builder().build().createObjectNode();
    index.putObject("metadata").put("total_size", weights.dataBytes() + RouterFit.tensorBytes());
    ObjectNode map = index.putObject("weight_map");
    Set<String> routers = Set.copyOf(RouterFit.tensorNames());
    List<String> all = new ArrayList<>(weights.names());
    all.addAll(routers);
    Collections.sort(all);
    for (String name : all) {
      map.put(name, routers.contains(name) ? ROUTERS : WEIGHTS);
    }
    try {
      Files.writeString(dir.resolve(Checkpoint.INDEX), index.toPrettyString());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + dir.resolve(Checkpoint.INDEX) + ": " + e.getMessage(), e);
    }
  }

  private static ObjectNode config(SyntheticTokenizer tokenizer) {
    ObjectNode c = JsonMapper.builder().build().createObjectNode();
    c.putArray("architectures").add("DeepseekV3ForCausalLM");
    c.put("attention_bias", false)
        .put("attention_dropout", 0.0)
        .put("bos_token_id", tokenizer.bos())
        .put("dtype", "float32")
        .put("eos_token_id", tokenizer.eos())
        .put("first_k_dense_replace", FIRST_DENSE)
        .put("head_dim", ROPE)
        .put("hidden_act", "silu")
        .put("hidden_size", HIDDEN)
        .put("initializer_range", 0.02)
        .put("intermediate_size", DENSE_WIDTH)
        .put("kv_lora_rank", KV_LORA)
        .put("max_position_embeddings", 4096)
        .put("model_type", "deepseek_v3")
        .put("moe_intermediate_size", EXPERT_WIDTH)
        .put("n_group", GROUPS)
        .put("n_routed_experts", EXPERTS)
        .put("n_shared_experts", 1)
        .put("norm_topk_prob", true)
        .put("num_attention_heads", HEADS)
        .put("num_experts_per_tok", TOP_K)
        .put("num_hidden_layers", LAYERS)
        .put("num_key_value_heads", HEADS)
        .put("pretraining_tp", 1)
        .put("q_lora_rank", Q_LORA)
        .put("qk_head_dim", NOPE + ROPE)
        .put("qk_nope_head_dim", NOPE)
        .put("qk_rope_head_dim", ROPE)
        .put("rms_norm_eps", 1e-6)
        .put("rope_interleave", true)
        .putNull("rope_scaling");
    c.put("rope_theta", 10000.0)
        .put("routed_scaling_factor", (double) ROUTED_SCALING)
        .put("tie_word_embeddings", false)
        .put("topk_group", TOPK_GROUPS)
        .put("transformers_version", "4.57.6")
        .put("use_cache", true)
        .put("v_head_dim", V_DIM)
        .put("vocab_size", tokenizer.size());
    return c;
  }

  /** Everything but the routers. */
  private static SafetensorsWriter weights(SyntheticTokenizer tokenizer, SplittableRandom r) {
    TensorNames names = TensorNames.of(Architecture.DEEPSEEK_V3);
    SafetensorsWriter out = new SafetensorsWriter().metadata("format", "pt");
    int vocab = tokenizer.size();
    float[][] own = new float[vocab][];
    float[] embedding = new float[vocab * HIDDEN];
    for (int t = 0; t < vocab; t++) {
      own[t] = unitFree(r);
      PromptKind kind = tokenizer.kind(t);
      double scale = kind == null ? OTHER_TOKEN : 1;
      for (int i = FIRST_FREE; i < HIDDEN; i++) {
        embedding[t * HIDDEN + i] = (float) (scale * own[t][i]);
      }
      if (kind != null) {
        embedding[t * HIDDEN + kind.ordinal()] = 1;
      }
    }
    out.add(names.embedding(), embedding, vocab, HIDDEN);
    for (int l = 0; l < LAYERS; l++) {
      out.add(names.inputNorm(l), ones(HIDDEN), HIDDEN);
      attention(out, names, l, r);
      out.add(names.postAttentionNorm(l), ones(HIDDEN), HIDDEN);
      if (l < FIRST_DENSE) {
        ffn(out, names.denseMlp(l, "gate_proj"), names.denseMlp(l, "up_proj"), names.denseMlp(l, "down_proj"),
            DENSE_WIDTH, DENSE_OUT, r);
        continue;
      }
      for (int e = 0; e < EXPERTS; e++) {
        ffn(out, names.expertGate(l, e), names.expertUp(l, e), names.expertDown(l, e), EXPERT_WIDTH, EXPERT_OUT, r);
      }
      ffn(out, names.sharedGate(l), names.sharedUp(l), names.sharedDown(l), EXPERT_WIDTH, EXPERT_OUT, r);
    }
    out.add(names.finalNorm(), ones(HIDDEN), HIDDEN);
    out.add(names.lmHead(), head(tokenizer, own, r), vocab, HIDDEN);
    return out;
  }

  /**
   * Multi-head latent attention that mostly averages over the sequence (queries are small, so
   * scores are near zero): latent coordinates 0 and 1 copy the kinds, each head's values 0 and 1
   * carry them, and in the dense layers the output projection adds them back to the kind
   * coordinates. The rest is random and writes little, into the free coordinates only.
   */
  private static void attention(SafetensorsWriter out, TensorNames names, int layer, SplittableRandom r) {
    out.add(names.attention(layer, "q_a_proj", "weight"), gaussian(r, Q_LORA * HIDDEN, 1 / Math.sqrt(HIDDEN)),
        Q_LORA, HIDDEN);
    out.add(names.attention(layer, "q_a_layernorm", "weight"), ones(Q_LORA), Q_LORA);
    out.add(names.attention(layer, "q_b_proj", "weight"), gaussian(r, HEADS * (NOPE + ROPE) * Q_LORA, 0.05),
        HEADS * (NOPE + ROPE), Q_LORA);
    float[] kvA = gaussian(r, (KV_LORA + ROPE) * HIDDEN, 0.1);
    for (int k = 0; k < FIRST_FREE; k++) {
      for (int i = 0; i < HIDDEN; i++) {
        kvA[k * HIDDEN + i] = i == k ? 1 : 0;
      }
      for (int j = FIRST_FREE; j < KV_LORA + ROPE; j++) {
        kvA[j * HIDDEN + k] = 0;
      }
    }
    out.add(names.attention(layer, "kv_a_proj_with_mqa", "weight"), kvA, KV_LORA + ROPE, HIDDEN);
    out.add(names.attention(layer, "kv_a_layernorm", "weight"), ones(KV_LORA), KV_LORA);
    int perHead = NOPE + V_DIM;
    float[] kvB = gaussian(r, HEADS * perHead * KV_LORA, 0.25);
    for (int h = 0; h < HEADS; h++) {
      for (int k = 0; k < FIRST_FREE; k++) {
        int valueRow = h * perHead + NOPE + k;
        for (int j = 0; j < KV_LORA; j++) {
          kvB[valueRow * KV_LORA + j] = j == k ? 1 : 0;
        }
      }
      // The other values read no kind, so the free coordinates stay free of it.
      for (int v = FIRST_FREE; v < V_DIM; v++) {
        for (int k = 0; k < FIRST_FREE; k++) {
          kvB[(h * perHead + NOPE + v) * KV_LORA + k] = 0;
        }
      }
    }
    out.add(names.attention(layer, "kv_b_proj", "weight"), kvB, HEADS * perHead, KV_LORA);
    int width = HEADS * V_DIM;
    float[] o = gaussian(r, HIDDEN * width, ATTENTION_OUT);
    for (int k = 0; k < FIRST_FREE; k++) {
      for (int j = 0; j < width; j++) {
        boolean kindValue = j % V_DIM == k;
        o[k * width + j] = kindValue && layer < FIRST_DENSE ? (float) (KIND_SPREAD / HEADS) : 0;
        if (kindValue) {
          for (int i = FIRST_FREE; i < HIDDEN; i++) {
            o[i * width + j] = 0;
          }
        }
      }
    }
    out.add(names.attention(layer, "o_proj", "weight"), o, HIDDEN, width);
  }

  /** A SwiGLU FFN writing about {@code outScale} into the free coordinates only. */
  private static void ffn(SafetensorsWriter out, String gate, String up, String down, int width, double outScale,
      SplittableRandom r) {
    out.add(gate, gaussian(r, width * HIDDEN, 1 / Math.sqrt(HIDDEN)), width, HIDDEN);
    out.add(up, gaussian(r, width * HIDDEN, 1 / Math.sqrt(HIDDEN)), width, HIDDEN);
    float[] d = gaussian(r, HIDDEN * width, outScale);
    for (int i = 0; i < FIRST_FREE * width; i++) {
      d[i] = 0;
    }
    out.add(down, d, HIDDEN, width);
  }

  /**
   * The LM head: a word's row is its kind, weighted {@link #HEAD_KIND}, and the vector of the word
   * before it in a random cycle through its kind's words, weighted {@link #HEAD_NEXT}; every other
   * row is zero, so no other token (end of sequence included) is ever likely.
   */
  private static float[] head(SyntheticTokenizer tokenizer, float[][] own, SplittableRandom r) {
    float[] head = new float[tokenizer.size() * HIDDEN];
    for (PromptKind kind : PromptKind.values()) {
      int[] cycle = permutation(PromptKind.WORDS, r);
      for (int i = 0; i < cycle.length; i++) {
        int word = tokenizer.word(kind, cycle[i]);
        int before = tokenizer.word(kind, cycle[(i + cycle.length - 1) % cycle.length]);
        head[word * HIDDEN + kind.ordinal()] = (float) HEAD_KIND;
        for (int j = FIRST_FREE; j < HIDDEN; j++) {
          head[word * HIDDEN + j] = (float) (HEAD_NEXT * own[before][j]);
        }
      }
    }
    return head;
  }

  static int[] permutation(int n, SplittableRandom r) {
    int[] p = new int[n];
    for (int i = 0; i < n; i++) {
      p[i] = i;
    }
    for (int i = n - 1; i > 0; i--) {
      int j = r.nextInt(i + 1);
      int t = p[i];
      p[i] = p[j];
      p[j] = t;
    }
    return p;
  }

  /** A random unit vector in the free coordinates. */
  private static float[] unitFree(SplittableRandom r) {
    float[] v = new float[HIDDEN];
    double norm = 0;
    for (int i = FIRST_FREE; i < HIDDEN; i++) {
      double g = r.nextGaussian();
      v[i] = (float) g;
      norm += g * g;
    }
    for (int i = FIRST_FREE; i < HIDDEN; i++) {
      v[i] /= (float) Math.sqrt(norm);
    }
    return v;
  }

  static float[] gaussian(SplittableRandom r, int n, double std) {
    float[] a = new float[n];
    for (int i = 0; i < n; i++) {
      a[i] = (float) (r.nextGaussian() * std);
    }
    return a;
  }

  private static float[] ones(int n) {
    float[] a = new float[n];
    Arrays.fill(a, 1f);
    return a;
  }
}

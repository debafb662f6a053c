package dev.moe.runtime.nativelib;

import dev.moe.runtime.model.ModelConfig.AttentionKind;
import dev.moe.runtime.model.ModelConfig.QkNorm;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Objects;

/**
 * One decoder layer's self-attention, as {@code moe_attention_config} describes it. GQA uses
 * {@code kvHeads}, {@code headDim}, {@code qkNorm} and {@code clipQkv}; MLA (DeepSeek-V3) the LoRA ranks
 * and the per-head dims, with {@code rotaryDim == qkRopeHeadDim}. The library checks the combination
 * when an {@link Attention} is created.
 *
 * @param rotaryDim leading dims of each q/k head that RoPE rotates (0: none)
 * @param ropeInterleaved false: dim i pairs with i + rotaryDim/2 (rotate_half); true: 2i with 2i + 1
 * @param slidingWindow {@code > 0}: a query at position p sees keys at positions {@code > p - slidingWindow}
 * @param qLoraRank MLA: 0 = q_proj, else q_a_proj, RMSNorm, q_b_proj
 * @param softmaxScale scores = softmaxScale * q . k
 * @param ropeScale multiplies cos and sin (YaRN's attention factor; 1 otherwise)
 * @param clipQkv {@code > 0}: q, k, v clamped to [-clipQkv, clipQkv] after the projections and q/k norms (OLMoE)
 * @param normEps epsilon of the q/k norms and of MLA's q_a / kv_a norms
 */
public record AttentionConfig(AttentionKind kind, int hidden, int heads, int kvHeads, int headDim, int rotaryDim,
    boolean ropeInterleaved, QkNorm qkNorm, int slidingWindow, int qLoraRank, int kvLoraRank, int qkNopeHeadDim,
    int qkRopeHeadDim, int vHeadDim, float softmaxScale, float ropeScale, float clipQkv, float normEps) {

  /** Bytes of the C struct: 14 int32 fields, then 4 floats. */
  static final long STRUCT_BYTES = 14 * Integer.BYTES + 4 * Float.BYTES;

  public AttentionConfig {
    Objects.requireNonNull(kind, "kind");
    Objects.requireNonNull(qkNorm, "qkNorm");
  }

  /** A GQA (or MHA, MQA) layer. */
  public static AttentionConfig gqa(int hidden, int heads, int kvHeads, int headDim, int rotaryDim,
      boolean ropeInterleaved, QkNorm qkNorm, int slidingWindow, float softmaxScale, float ropeScale, float clipQkv,
      float normEps) {
    return new AttentionConfig(AttentionKind.GQA, hidden, heads, kvHeads, headDim, rotaryDim, ropeInterleaved, qkNorm,
        slidingWindow, 0, 0, 0, 0, 0, softmaxScale, ropeScale, clipQkv, normEps);
  }

  /** A DeepSeek-V3 MLA layer (RoPE over the qkRopeHeadDim dims). */
  public static AttentionConfig mla(int hidden, int heads, int qLoraRank, int kvLoraRank, int qkNopeHeadDim,
      int qkRopeHeadDim, int vHeadDim, boolean ropeInterleaved, int slidingWindow, float softmaxScale, float ropeScale,
      float normEps) {
    return new AttentionConfig(AttentionKind.MLA, hidden, heads, 0, 0, qkRopeHeadDim, ropeInterleaved, QkNorm.NONE,
        slidingWindow, qLoraRank, kvLoraRank, qkNopeHeadDim, qkRopeHeadDim, vHeadDim, softmaxScale, ropeScale, 0,
        normEps);
  }

  /** The C struct, in the field order of moe_runtime.h. */
  MemorySegment toNative(Arena arena) {
    MemorySegment s = arena.allocate(STRUCT_BYTES, Integer.BYTES);
    int kindCode = switch (kind) {
      case GQA -> 0;  // MOE_ATTN_GQA
      case MLA -> 1;  // MOE_ATTN_MLA
    };
    int qkNormCode = switch (qkNorm) {
      case NONE -> 0;  // MOE_QK_NORM_NONE
      case HEAD -> 1;  // MOE_QK_NORM_HEAD
      case ALL -> 2;   // MOE_QK_NORM_ALL
    };
    int[] ints = {kindCode, hidden, heads, kvHeads, headDim, rotaryDim, ropeInterleaved ? 1 : 0,
        qkNormCode, slidingWindow, qLoraRank, kvLoraRank, qkNopeHeadDim, qkRopeHeadDim, vHeadDim};
    for (int i = 0; i < ints.length; i++) {
      s.setAtIndex(ValueLayout.JAVA_INT, i, ints[i]);
    }
    float[] floats = {softmaxScale, ropeScale, clipQkv, normEps};
    for (int i = 0; i < floats.length; i++) {
      s.setAtIndex(ValueLayout.JAVA_FLOAT, ints.length + i, floats[i]);
    }
    return s;
  }
}

package dev.moe.runtime.nativelib;

/**
 * The tensors of an attention layer ({@code moe_attention_tensor}, in its order). Matrices are
 * {@code [out, in]} as nn.Linear stores them, given in F32 or BF16; the rest are float32 vectors.
 */
public enum AttentionTensor {
  /** GQA {@code [heads*headDim, hidden]}; MLA with qLoraRank 0 {@code [heads*(nope+rope), hidden]}. */
  Q(true),
  /** GQA {@code [kvHeads*headDim, hidden]}. */
  K(true),
  /** GQA {@code [kvHeads*headDim, hidden]}. */
  V(true),
  /** {@code [hidden, heads*headDim]}; MLA {@code [hidden, heads*vHeadDim]}. */
  O(true),
  Q_BIAS(false),
  K_BIAS(false),
  V_BIAS(false),
  O_BIAS(false),
  /** {@code [headDim]} (QkNorm.HEAD) or {@code [heads*headDim]} (QkNorm.ALL). */
  Q_NORM(false),
  /** {@code [headDim]} (QkNorm.HEAD) or {@code [kvHeads*headDim]} (QkNorm.ALL). */
  K_NORM(false),
  /** MLA q_a_proj {@code [qLoraRank, hidden]}. */
  Q_A(true),
  Q_A_BIAS(false),
  /** {@code [qLoraRank]}. */
  Q_A_NORM(false),
  /** MLA q_b_proj {@code [heads*(nope+rope), qLoraRank]}. */
  Q_B(true),
  /** MLA kv_a_proj_with_mqa {@code [kvLoraRank + rope, hidden]}. */
  KV_A(true),
  KV_A_BIAS(false),
  /** {@code [kvLoraRank]}. */
  KV_A_NORM(false),
  /** MLA kv_b_proj {@code [heads*(nope+vHeadDim), kvLoraRank]}. */
  KV_B(true),
  /** {@code [rotaryDim / 2]}: the angle of pair i at position p is p * invFreq[i]. */
  INV_FREQ(false);

  private final boolean matrix;

  AttentionTensor(boolean matrix) {
    this.matrix = matrix;
  }

  /** A weight matrix (F32 or BF16), as opposed to a float32 vector. */
  public boolean matrix() {
    return matrix;
  }
}

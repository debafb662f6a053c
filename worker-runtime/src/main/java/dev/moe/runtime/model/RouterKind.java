package dev.moe.runtime.model;

/** How a router turns logits into top-k experts and weights. */
public enum RouterKind {
  /** Softmax over all experts, then the k largest (Mixtral, Qwen2/3-MoE, OLMoE). */
  SOFTMAX_TOPK,
  /** DeepSeek-V3's sigmoid scores with score-correction bias and group-limited top-k. */
  SIGMOID_GROUP_TOPK
}

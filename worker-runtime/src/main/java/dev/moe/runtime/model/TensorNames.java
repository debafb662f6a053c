package dev.moe.runtime.model;

/**
 * The checkpoint tensor names of an MoE block, per architecture, as transformers'
 * {@code save_pretrained} writes them. Expert matrices: gate and up {@code [inter, hidden]}, down
 * {@code [hidden, inter]} (Mixtral's w1, w3, w2).
 */
public final class TensorNames {

  private final Architecture architecture;
  private final String block;
  private final String gateProj;
  private final String upProj;
  private final String downProj;

  private TensorNames(Architecture architecture) {
    this.architecture = architecture;
    boolean mixtral = architecture == Architecture.MIXTRAL;
    this.block = mixtral ? "block_sparse_moe" : "mlp";
    this.gateProj = mixtral ? "w1" : "gate_proj";
    this.upProj = mixtral ? "w3" : "up_proj";
    this.downProj = mixtral ? "w2" : "down_proj";
  }

  public static TensorNames of(Architecture architecture) {
    return new TensorNames(architecture);
  }

  public Architecture architecture() {
    return architecture;
  }

  private String prefix(int layer) {
    return "model.layers." + layer + "." + block + ".";
  }

  /** The router's linear weight {@code [experts, hidden]}. */
  public String router(int layer) {
    return prefix(layer) + "gate.weight";
  }

  /** DeepSeek-V3's score-correction bias {@code [experts]}; null for other architectures. */
  public String routerBias(int layer) {
    return architecture == Architecture.DEEPSEEK_V3 ? prefix(layer) + "gate.e_score_correction_bias" : null;
  }

  public String expertGate(int layer, int expert) {
    return prefix(layer) + "experts." + expert + "." + gateProj + ".weight";
  }

  public String expertUp(int layer, int expert) {
    return prefix(layer) + "experts." + expert + "." + upProj + ".weight";
  }

  public String expertDown(int layer, int expert) {
    return prefix(layer) + "experts." + expert + "." + downProj + ".weight";
  }

  /** The shared expert's module prefix (Qwen2-MoE {@code shared_expert}, DeepSeek {@code shared_experts}); null when none. */
  private String shared(int layer) {
    return switch (architecture) {
      case QWEN2_MOE -> prefix(layer) + "shared_expert.";
      case DEEPSEEK_V3 -> prefix(layer) + "shared_experts.";
      default -> null;
    };
  }

  public String sharedGate(int layer) {
    String s = shared(layer);
    return s == null ? null : s + "gate_proj.weight";
  }

  public String sharedUp(int layer) {
    String s = shared(layer);
    return s == null ? null : s + "up_proj.weight";
  }

  public String sharedDown(int layer) {
    String s = shared(layer);
    return s == null ? null : s + "down_proj.weight";
  }

  /** Qwen2-MoE's shared-expert gate {@code [1, hidden]}; null for other architectures. */
  public String sharedExpertGate(int layer) {
    return architecture == Architecture.QWEN2_MOE ? prefix(layer) + "shared_expert_gate.weight" : null;
  }

  // ---- The rest of the decoder -------------------------------------------------------------------

  /** The token embedding {@code [vocab, hidden]}. */
  public String embedding() {
    return "model.embed_tokens.weight";
  }

  /** The final norm's weight {@code [hidden]}. */
  public String finalNorm() {
    return "model.norm.weight";
  }

  /** The LM head {@code [vocab, hidden]} (absent when tied to the embedding). */
  public String lmHead() {
    return "lm_head.weight";
  }

  public String inputNorm(int layer) {
    return "model.layers." + layer + ".input_layernorm.weight";
  }

  public String postAttentionNorm(int layer) {
    return "model.layers." + layer + ".post_attention_layernorm.weight";
  }

  /**
   * A tensor of layer {@code layer}'s attention: {@code module} is the submodule as transformers
   * names it (q_proj, k_proj, v_proj, o_proj, q_norm, k_norm, q_a_proj, q_a_layernorm, q_b_proj,
   * kv_a_proj_with_mqa, kv_a_layernorm, kv_b_proj), {@code kind} "weight" or "bias".
   */
  public String attention(int layer, String module, String kind) {
    return "model.layers." + layer + ".self_attn." + module + "." + kind;
  }

  /** A dense layer's SwiGLU MLP projection (gate_proj, up_proj, down_proj). */
  public String denseMlp(int layer, String projection) {
    return "model.layers." + layer + ".mlp." + projection + ".weight";
  }

  /** The block-fp8 scale of {@code weightName} ({@code ...weight} -> {@code ...weight_scale_inv}). */
  public static String scaleInv(String weightName) {
    return weightName + "_scale_inv";
  }
}

#include "attention_spec.h"

#include <cmath>
#include <limits>
#include <string>

#include "internal.h"

namespace moe {
namespace {

const char *const kNames[kAttentionTensors] = {
    "MOE_ATTN_Q",      "MOE_ATTN_K",         "MOE_ATTN_V",      "MOE_ATTN_O",        "MOE_ATTN_Q_BIAS",
    "MOE_ATTN_K_BIAS", "MOE_ATTN_V_BIAS",    "MOE_ATTN_O_BIAS", "MOE_ATTN_Q_NORM",   "MOE_ATTN_K_NORM",
    "MOE_ATTN_Q_A",    "MOE_ATTN_Q_A_BIAS",  "MOE_ATTN_Q_A_NORM", "MOE_ATTN_Q_B",    "MOE_ATTN_KV_A",
    "MOE_ATTN_KV_A_BIAS", "MOE_ATTN_KV_A_NORM", "MOE_ATTN_KV_B", "MOE_ATTN_INV_FREQ"};

void field_at_least(int32_t v, int32_t min, const char *name) {
  if (v < min)
    fail(MOE_ERR_INVALID, std::string("attention config: ") + name + " must be >= " + std::to_string(min) +
                              ", got " + std::to_string(v));
}

void field_finite(float v, const char *name) {
  if (!std::isfinite(v)) fail(MOE_ERR_INVALID, std::string("attention config: ") + name + " is not finite");
}

// Products of config fields that size a tensor must stay well inside int32 (the kernels index with
// int), whatever the fields.
void product_fits(int64_t v, const char *what) {
  if (v > std::numeric_limits<int32_t>::max())
    fail(MOE_ERR_INVALID, std::string("attention config: ") + what + " = " + std::to_string(v) +
                              " is too large (> 2^31 - 1)");
}

TensorSpec matrix(int64_t rows, int64_t cols, bool required) {
  TensorSpec s;
  s.applies = true;
  s.required = required;
  s.matrix = true;
  s.rows = rows;
  s.cols = cols;
  return s;
}

TensorSpec vector(int64_t n, bool required) {
  TensorSpec s;
  s.applies = true;
  s.required = required;
  s.rows = n;
  return s;
}

}  // namespace

const char *attention_tensor_name(int which) {
  if (which >= 0 && which < kAttentionTensors) return kNames[which];
  static thread_local std::string unknown;
  unknown = "tensor " + std::to_string(which);
  return unknown.c_str();
}

void validate_attention_config(const moe_attention_config &c) {
  if (c.kind != MOE_ATTN_GQA && c.kind != MOE_ATTN_MLA)
    fail(MOE_ERR_INVALID, "attention config: kind " + std::to_string(c.kind) + " is neither MOE_ATTN_GQA (0) nor "
                          "MOE_ATTN_MLA (1)");
  field_at_least(c.hidden, 1, "hidden");
  field_at_least(c.heads, 1, "heads");
  field_at_least(c.sliding_window, 0, "sliding_window");
  if (c.rope_interleaved != 0 && c.rope_interleaved != 1)
    fail(MOE_ERR_INVALID, "attention config: rope_interleaved must be 0 or 1, got " + std::to_string(c.rope_interleaved));
  field_finite(c.softmax_scale, "softmax_scale");
  field_finite(c.rope_scale, "rope_scale");
  field_finite(c.norm_eps, "norm_eps");
  if (c.norm_eps < 0) fail(MOE_ERR_INVALID, "attention config: norm_eps must be >= 0");
  if (std::isnan(c.clip_qkv)) fail(MOE_ERR_INVALID, "attention config: clip_qkv is NaN");
  if (c.kind == MOE_ATTN_GQA) {
    field_at_least(c.kv_heads, 1, "kv_heads");
    field_at_least(c.head_dim, 1, "head_dim");
    if (c.heads % c.kv_heads != 0)
      fail(MOE_ERR_INVALID, "attention config: kv_heads = " + std::to_string(c.kv_heads) + " does not divide heads = " +
                                std::to_string(c.heads));
    field_at_least(c.rotary_dim, 0, "rotary_dim");
    if (c.rotary_dim % 2 != 0 || c.rotary_dim > c.head_dim)
      fail(MOE_ERR_INVALID, "attention config: rotary_dim = " + std::to_string(c.rotary_dim) +
                                " must be even and <= head_dim = " + std::to_string(c.head_dim));
    if (c.qk_norm < MOE_QK_NORM_NONE || c.qk_norm > MOE_QK_NORM_ALL)
      fail(MOE_ERR_INVALID, "attention config: qk_norm " + std::to_string(c.qk_norm) + " is not a moe_qk_norm");
    product_fits(int64_t(c.heads) * c.head_dim, "heads * head_dim");
    product_fits(2 * int64_t(c.kv_heads) * c.head_dim, "the cache width 2 * kv_heads * head_dim");
    product_fits(int64_t(c.hidden) * c.heads * c.head_dim, "hidden * heads * head_dim");
  } else {
    field_at_least(c.q_lora_rank, 0, "q_lora_rank");
    field_at_least(c.kv_lora_rank, 1, "kv_lora_rank");
    field_at_least(c.qk_nope_head_dim, 1, "qk_nope_head_dim");
    field_at_least(c.qk_rope_head_dim, 2, "qk_rope_head_dim");
    field_at_least(c.v_head_dim, 1, "v_head_dim");
    if (c.qk_rope_head_dim % 2 != 0)
      fail(MOE_ERR_INVALID, "attention config: qk_rope_head_dim = " + std::to_string(c.qk_rope_head_dim) +
                                " must be even");
    if (c.rotary_dim != c.qk_rope_head_dim)
      fail(MOE_ERR_INVALID, "attention config: rotary_dim = " + std::to_string(c.rotary_dim) +
                                " must equal qk_rope_head_dim = " + std::to_string(c.qk_rope_head_dim) + " for MLA");
    if (c.qk_norm != MOE_QK_NORM_NONE) fail(MOE_ERR_INVALID, "attention config: qk_norm applies to GQA only");
    if (c.clip_qkv > 0) fail(MOE_ERR_INVALID, "attention config: clip_qkv applies to GQA only");
    const int64_t qk = int64_t(c.qk_nope_head_dim) + c.qk_rope_head_dim;
    product_fits(c.heads * qk, "heads * (qk_nope_head_dim + qk_rope_head_dim)");
    product_fits(c.heads * (c.qk_nope_head_dim + int64_t(c.v_head_dim)), "heads * (qk_nope_head_dim + v_head_dim)");
    product_fits(int64_t(c.kv_lora_rank) + c.qk_rope_head_dim, "kv_lora_rank + qk_rope_head_dim");
    product_fits(int64_t(c.heads) * c.kv_lora_rank, "heads * kv_lora_rank");
    const int64_t q_in = c.q_lora_rank > 0 ? c.q_lora_rank : c.hidden;
    product_fits(c.heads * qk * q_in, "the q projection's elements");
    product_fits(int64_t(c.hidden) * c.heads * c.v_head_dim, "the o projection's elements");
    product_fits(int64_t(c.hidden) * (c.kv_lora_rank + c.qk_rope_head_dim), "kv_a's elements");
    product_fits(c.heads * (c.qk_nope_head_dim + int64_t(c.v_head_dim)) * c.kv_lora_rank, "kv_b's elements");
    product_fits(int64_t(c.hidden) * c.q_lora_rank, "q_a's elements");
  }
}

TensorSpec attention_tensor_spec(const moe_attention_config &c, int which) {
  const int64_t hidden = c.hidden, heads = c.heads;
  if (c.kind == MOE_ATTN_GQA) {
    const int64_t q_out = heads * c.head_dim, kv_out = int64_t(c.kv_heads) * c.head_dim;
    switch (which) {
      case MOE_ATTN_Q: return matrix(q_out, hidden, true);
      case MOE_ATTN_K: return matrix(kv_out, hidden, true);
      case MOE_ATTN_V: return matrix(kv_out, hidden, true);
      case MOE_ATTN_O: return matrix(hidden, q_out, true);
      case MOE_ATTN_Q_BIAS: return vector(q_out, false);
      case MOE_ATTN_K_BIAS: return vector(kv_out, false);
      case MOE_ATTN_V_BIAS: return vector(kv_out, false);
      case MOE_ATTN_O_BIAS: return vector(hidden, false);
      case MOE_ATTN_Q_NORM:
        if (c.qk_norm == MOE_QK_NORM_NONE) return {};
        return vector(c.qk_norm == MOE_QK_NORM_HEAD ? c.head_dim : q_out, true);
      case MOE_ATTN_K_NORM:
        if (c.qk_norm == MOE_QK_NORM_NONE) return {};
        return vector(c.qk_norm == MOE_QK_NORM_HEAD ? c.head_dim : kv_out, true);
      case MOE_ATTN_INV_FREQ:
        if (c.rotary_dim == 0) return {};
        return vector(c.rotary_dim / 2, true);
      default: return {};
    }
  }
  const int64_t q_out = heads * (int64_t(c.qk_nope_head_dim) + c.qk_rope_head_dim);
  const bool lora = c.q_lora_rank > 0;
  switch (which) {
    case MOE_ATTN_Q: return lora ? TensorSpec{} : matrix(q_out, hidden, true);
    case MOE_ATTN_Q_BIAS: return lora ? TensorSpec{} : vector(q_out, false);
    case MOE_ATTN_Q_A: return lora ? matrix(c.q_lora_rank, hidden, true) : TensorSpec{};
    case MOE_ATTN_Q_A_BIAS: return lora ? vector(c.q_lora_rank, false) : TensorSpec{};
    case MOE_ATTN_Q_A_NORM: return lora ? vector(c.q_lora_rank, true) : TensorSpec{};
    case MOE_ATTN_Q_B: return lora ? matrix(q_out, c.q_lora_rank, true) : TensorSpec{};
    case MOE_ATTN_KV_A: return matrix(int64_t(c.kv_lora_rank) + c.qk_rope_head_dim, hidden, true);
    case MOE_ATTN_KV_A_BIAS: return vector(int64_t(c.kv_lora_rank) + c.qk_rope_head_dim, false);
    case MOE_ATTN_KV_A_NORM: return vector(c.kv_lora_rank, true);
    case MOE_ATTN_KV_B: return matrix(heads * (int64_t(c.qk_nope_head_dim) + c.v_head_dim), c.kv_lora_rank, true);
    case MOE_ATTN_O: return matrix(hidden, heads * c.v_head_dim, true);
    case MOE_ATTN_O_BIAS: return vector(hidden, false);
    case MOE_ATTN_INV_FREQ: return vector(c.qk_rope_head_dim / 2, true);
    default: return {};
  }
}

int attention_cache_width(const moe_attention_config &c) {
  return c.kind == MOE_ATTN_GQA ? 2 * c.kv_heads * c.head_dim : c.kv_lora_rank + c.qk_rope_head_dim;
}

}  // namespace moe

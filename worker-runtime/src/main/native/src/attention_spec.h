// What an attention configuration means for its tensors and its cache: shared by the C API's
// checks and the backends.
#pragma once

#include <cstdint>

#include "moe_runtime.h"

namespace moe {

constexpr int kAttentionTensors = MOE_ATTN_INV_FREQ + 1;

// One tensor of a configuration. Matrices are [rows, cols] (nn.Linear's [out, in]) in a moe_dtype;
// the others are float32 vectors of `rows` elements.
struct TensorSpec {
  bool applies = false;   // the configuration has this tensor at all
  bool required = false;  // forward needs it
  bool matrix = false;
  int64_t rows = 0, cols = 1;
  int64_t elems() const { return rows * cols; }
};

// "MOE_ATTN_Q" etc., or "tensor <n>" for an unknown value.
const char *attention_tensor_name(int which);

// Throws Error(MOE_ERR_INVALID) naming the first field out of range.
void validate_attention_config(const moe_attention_config &c);

// For a valid configuration; `which` in [0, kAttentionTensors).
TensorSpec attention_tensor_spec(const moe_attention_config &c, int which);

// See moe_attention_cache_width.
int attention_cache_width(const moe_attention_config &c);

}  // namespace moe

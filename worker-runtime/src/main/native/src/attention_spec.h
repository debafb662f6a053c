// What an attention configuration means for its tensors and its cache: shared by the C API's
// checks and the backends.
#pragma once

#include <cstddef>
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

// What one attention pass reads and writes, for both backends' attention kernels. Head h of row r:
// query part A at qa + r * qa_row + h * qa_head (da floats), part B likewise (db floats; 0: none),
// output at out + r * out_row + h * out_head (dv floats). Its keys and values live in each cache
// position at ka, kb and vo plus (h / group_heads) * group_stride.
struct AttendShape {
  const float *qa;
  size_t qa_row, qa_head;
  int da;
  const float *qb;
  size_t qb_row, qb_head;
  int db;
  float *out;
  size_t out_row, out_head;
  int dv;
  int ka, kb, vo;
  int group_heads, group_stride;
  float scale;
  int window;
};

}  // namespace moe

// The CPU backend's attention (GQA and DeepSeek's MLA) over a paged KV cache in host memory.
#pragma once

#include <array>
#include <vector>

#include "attention_spec.h"
#include "cpu/buffer.h"
#include "cpu/matrix.h"
#include "cpu/runtime.h"
#include "internal.h"

namespace moe {

class CpuKvCache final : public KvCache {
 public:
  CpuKvCache(int layers, int blocks, int block_size, int width);
  // Position `offset` of `block` in `layer`: width floats.
  float *slot(int layer, int block, int offset) const {
    return data_.as<float>() +
           ((size_t(layer) * blocks() + size_t(block)) * block_size() + size_t(offset)) * width();
  }

 private:
  MappedBuffer data_;
};

class CpuAttention final : public Attention {
 public:
  CpuAttention(CpuRuntime &rt, const moe_attention_config &config);

  void set(moe_attention_tensor which, const void *data, moe_dtype src_dtype, moe_dtype dtype) override;
  void forward(KvCache &cache, int layer, const float *x, int nseq, const int32_t *seq_rows,
               const int32_t *seq_start, const int32_t *block_table, int max_blocks, float *y) override;

  // Where one forward's rows find their keys and values.
  struct Batch {
    const CpuKvCache *cache;
    int layer;
    const int32_t *block_table;
    int max_blocks;
    int rows;
  };

 private:
  const PackedMatrix &matrix(int which) const { return mat_[which]; }
  const float *vector(int which) const { return vec_[which].empty() ? nullptr : vec_[which].data(); }

  // Projections of one input x [rows, *] (row stride ldx): matrix which[g] writes its rows into out[g]
  // (row stride ld[g]) with its bias, all n in one parallel region.
  void project(const float *x, size_t ldx, int rows, int n, const int *which, float *const *out, const size_t *ld);
  // MLA's per-head products: out[r, h * m.n + j] = sum_i in[r, h * in_head + i] * block h of m [j, i].
  void per_head(const PackedMatrix &m, const float *in, size_t ld_in, size_t in_head, int rows, float *out,
                size_t ld_out);
  // Runs row(r, worker) for every row, on the pool when there are enough rows to pay for it.
  template <typename Row>
  void each_row(int rows, Row row);
  // Fills the scratch's items with (row, head range) work: heads of one kv group, cut so that a small
  // batch still gives every thread work.
  void plan_items(int rows, int kv_groups, int group_heads);
  void attend_all(const Batch &b, const AttendShape &a);
  // cos and sin (each times rope_scale) of position p for the rotary_dim / 2 pairs, in the worker's
  // scratch: [cos..., sin...].
  float *rope_table(int p, int worker);
  // The cache position of a row.
  float *cache_slot(const Batch &b, int row) const;

  void forward_gqa(const Batch &b, const float *x, float *y);
  void forward_mla(const Batch &b, const float *x, float *y);

  CpuRuntime &rt_;
  std::array<PackedMatrix, kAttentionTensors> mat_;     // matrices, by moe_attention_tensor
  std::array<std::vector<float>, kAttentionTensors> vec_;  // biases, norm weights, inv_freq
  // MLA: kv_b split per head into W_uk^T [kv_lora, nope] (queries absorb it) and W_uv [v, kv_lora]
  // (applied to the attention-weighted latent).
  PackedMatrix uk_, uv_;
};

}  // namespace moe

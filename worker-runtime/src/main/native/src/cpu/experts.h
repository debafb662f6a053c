// The CPU expert bank: slots of packed SwiGLU experts.
#pragma once

#include "cpu/buffer.h"
#include "cpu/gemm.h"
#include "cpu/runtime.h"
#include "internal.h"

namespace moe {

// Each slot holds two packed matrices: gate and up fused into panels of 8 gate lanes followed by
// the same 8 neurons' up lanes (so one pass yields silu(gate) * up), and down in plain panels.
class CpuExpertBank final : public ExpertBank {
 public:
  CpuExpertBank(CpuRuntime &rt, int slots, int hidden, int inter, moe_dtype dtype);

  void load(int slot, const void *gate, const void *up, const void *down, moe_dtype src_dtype) override;
  void export_slot(int slot, void *dst) override;
  void copy_slot(int slot, const ExpertBank &src, int src_slot) override;
  uint64_t checksum(int slot) override;
  void ffn(const float *x, int rows, const int32_t *slot_ids, const int64_t *offsets, int groups,
           float *y) override;
  double bench_ffn(int rows, int groups, int iters) override;

 private:
  const char *gate_up(int slot) const { return storage_.as<char>() + size_t(slot) * slot_stride_; }
  const char *down(int slot) const { return gate_up(slot) + gate_up_layout_.bytes(); }
  // Source rows of a panel's lanes (null: padding); matrix 0 = gate/up, 1 = down. `canonical`
  // holds gate, up, down at the given element size.
  void panel_rows(int matrix, int panel, const void *const canonical[3], size_t elem, const void *rows[kNR]) const;

  CpuRuntime &rt_;
  PanelLayout gate_up_layout_, down_layout_;
  size_t slot_stride_;
  MappedBuffer storage_;
};

}  // namespace moe

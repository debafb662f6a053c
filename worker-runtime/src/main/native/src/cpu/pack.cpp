// Weight packing for the micro-kernel's panel layout (see gemm.h), and its inverse.
#include "cpu/bf16.h"
#include "cpu/gemm.h"

namespace moe {

void pack_panel(const PanelLayout &layout, void *packed, int panel, const void *const rows[kNR],
                moe_dtype src_dtype) {
  const bool bf16 = layout.dtype == MOE_BF16;
  for (int kb = 0; kb < layout.k_blocks(); ++kb) {
    const int len = layout.block_len(kb), k0 = kb * kKC;
    const size_t base = layout.offset(kb, panel, 0);
    for (int lane = 0; lane < kNR; ++lane) {
      const size_t at = base + size_t(layout.lane_pos(lane));
      const void *row = rows[lane];
      for (int kk = 0; kk < len; ++kk) {
        const size_t dst = at + size_t(kk) * kNR, src = size_t(k0 + kk);
        if (bf16) {
          uint16_t v = 0;
          if (row)
            v = src_dtype == MOE_BF16 ? static_cast<const uint16_t *>(row)[src]
                                      : f32_to_bf16(static_cast<const float *>(row)[src]);
          static_cast<uint16_t *>(packed)[dst] = v;
        } else {
          float v = 0.0f;
          if (row)
            v = src_dtype == MOE_BF16 ? bf16_to_f32(static_cast<const uint16_t *>(row)[src])
                                      : static_cast<const float *>(row)[src];
          static_cast<float *>(packed)[dst] = v;
        }
      }
    }
  }
}

namespace {

template <typename T>
void unpack_lanes(const PanelLayout &layout, const T *packed, int panel, void *const rows[kNR]) {
  for (int kb = 0; kb < layout.k_blocks(); ++kb) {
    const int len = layout.block_len(kb), k0 = kb * kKC;
    const T *block = packed + layout.offset(kb, panel, 0);
    for (int lane = 0; lane < kNR; ++lane) {
      if (!rows[lane]) continue;
      T *row = static_cast<T *>(rows[lane]) + k0;
      const T *src = block + layout.lane_pos(lane);
      for (int kk = 0; kk < len; ++kk) row[kk] = src[size_t(kk) * kNR];
    }
  }
}

}  // namespace

void unpack_panel(const PanelLayout &layout, const void *packed, int panel, void *const rows[kNR]) {
  if (layout.dtype == MOE_BF16)
    unpack_lanes(layout, static_cast<const uint16_t *>(packed), panel, rows);
  else
    unpack_lanes(layout, static_cast<const float *>(packed), panel, rows);
}

}  // namespace moe

// Blocked GEMM for y = a @ w^T with w packed at load time, on AVX2/FMA.
//
// A weight matrix w [n, k] (nn.Linear's [out, in]) is packed as K blocks of kKC; inside a K block,
// panels of kNR = 16 output lanes, each kc rows of 16 lanes. So the micro-kernel reads one panel's
// K block as a contiguous stream, and panels of a thread's range follow each other in memory.
// bf16 panels pair lanes j and j + 8 in one 32-bit word (low and high half), so that a shift and a
// mask widen them to two float32 vectors in lane order.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "cpu/buffer.h"
#include "moe_runtime.h"

namespace moe {

constexpr int kMR = 6;     // micro-kernel rows: 6 x 2 accumulators + 2 B vectors + 1 broadcast
constexpr int kNR = 16;    // micro-kernel lanes: two 8-float vectors
constexpr int kKC = 256;   // K block: a panel's block (16 KiB in f32) stays in L1 across the rows
constexpr int kMB = 192;   // rows per work item: its packed A block (kMB x kKC) stays in L2
constexpr int kNCP = 32;   // panels per column block: bounds the partial-sum tile of the gate/up pass

struct PanelLayout {
  int k = 0;       // reduction length
  int panels = 0;  // groups of kNR output lanes
  moe_dtype dtype = MOE_F32;

  size_t elems() const { return size_t(panels) * kNR * size_t(k); }
  size_t bytes() const { return elems() * (dtype == MOE_BF16 ? 2 : 4); }
  int k_blocks() const { return (k + kKC - 1) / kKC; }
  int block_len(int kb) const { return std::min(kKC, k - kb * kKC); }
  // Element offset of row `kk` (within the K block starting at kb * kKC) of `panel`.
  size_t offset(int kb, int panel, int kk) const {
    return size_t(kb) * kKC * panels * kNR + (size_t(panel) * block_len(kb) + size_t(kk)) * kNR;
  }
  // Position of `lane` inside a packed row of 16.
  int lane_pos(int lane) const { return dtype == MOE_BF16 ? (lane < 8 ? 2 * lane : 2 * (lane - 8) + 1) : lane; }
};

// Packs one panel: lane l takes source row rows[l] (k elements in src_dtype), or zeros where null.
void pack_panel(const PanelLayout &layout, void *packed, int panel, const void *const rows[kNR],
                moe_dtype src_dtype);

// The inverse for the lanes with a non-null row: rows[l] receives k elements in layout.dtype.
void unpack_panel(const PanelLayout &layout, const void *packed, int panel, void *const rows[kNR]);

// How results leave the micro-kernel.
enum class Epilogue {
  kStore,   // c[r, 16p + l] = lane l of panel p (+ bias[16p + l]), for columns < n (the width of c)
  kSwiGLU,  // c[r, 8p + l] = silu(lane l) * lane (8 + l): the fused gate/up panels
};

// One unit of work: rows [0, m) of a, panels [p0, p1) of the packed weights, on one thread.
struct GemmItem {
  const float *a;
  size_t lda;
  int m;
  const void *b;
  const PanelLayout *layout;
  int p0, p1;
  Epilogue epilogue;
  float *c;
  size_t ldc;
  int n;  // kStore: valid columns of c
  const float *bias = nullptr;  // kStore: [n], added once the dot product is complete, or null
};

// A thread's scratch memory, grown on demand and kept across calls.
struct GemmScratch {
  MappedBuffer a_packed;  // the item's rows, packed for the micro-kernel
  MappedBuffer partial;   // gate/up partial sums across K blocks
  MappedBuffer b_wide;    // a bf16 panel block widened to f32 when many row panels reuse it
};

void run_gemm_item(const GemmItem &item, GemmScratch &scratch);

}  // namespace moe

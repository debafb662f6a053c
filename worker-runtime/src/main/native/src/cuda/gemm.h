// GEMM kernels of the CUDA backend: c = a @ w^T with w in the canonical [n, k] layout, for the
// grouped expert FFN (one launch over every group: grid.x walks a tile map of (group rows, slot)
// entries built on the host, grid.y the output columns) and for dense matrices (row tiles implicit,
// grid.z over side-by-side weights such as MLA's per-head blocks).
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace moe {

constexpr int kTileM = 64;  // rows per tile (every GEMM kernel)

struct RowTile {
  int row0;  // first row of the tile in a (and in c)
  int rows;  // 1..kTileM
  int slot;  // weight slot
};

// Cuts each group into tiles of kTileM rows: group g owns rows [offsets[g], offsets[g + 1]).
std::vector<RowTile> make_row_tiles(const int64_t *offsets, const int32_t *slot_ids, int groups);

struct GemmShape {
  int n, k;            // output columns, reduction length
  const void *w;       // slot 0's base
  size_t slot_stride;  // elements between slots
  size_t w_offset;     // elements from a slot's start to w (gate, or down)
  size_t up_offset;    // gate/up only: elements from a slot's start to up
  const float *bias = nullptr;  // [n], added to the finished dot products (not with swiglu), or null
  size_t lda = 0, ldc = 0;      // row strides of a and c; 0: k and n
  // Dense launches: slot s reads a + s * a_slot_offset and writes c + s * c_slot_offset.
  size_t a_slot_offset = 0, c_slot_offset = 0;
};

// float32 activations on CUDA cores, w in float32 or bf16 (widened exactly), float32 accumulation in
// the CPU backend's order (cpu/gemm.cpp): each output sums K blocks of kKC, a block as four sub-chunks
// of kKC / 4 at fixed offsets, each an FMA chain from zero, added ((s0 + s1) + s2) + s3; blocks added
// in order; then the bias. Every output is one thread's chain, so neither the tiling nor the rows
// beside it change its bits, and a row's result equals the CPU backend's.
//   swiglu: c[r, j] = silu(a w_gate^T) * (a w_up^T), both [rows, n]; otherwise c = a w^T (+ bias).
void launch_gemm_f32(const RowTile *tiles, int tile_count, const GemmShape &shape, bool w_bf16, bool swiglu,
                     const float *a, float *c, cudaStream_t stream);

// Rows [0, rows) of a through `slots` weights side by side (slot s at shape.w + s * slot_stride).
void launch_gemm_dense(int rows, int slots, const GemmShape &shape, bool w_bf16, const float *a, float *c,
                       cudaStream_t stream);

// Tensor cores (WMMA, bf16 x bf16 -> f32). Activations arrive split as hi + lo bf16 pairs
// (a = hi + lo to about 16 bits of mantissa), so the products keep near-float32 accuracy against the
// bf16 weights. swiglu writes its output split the same way (c_hi, c_lo) for the down pass;
// otherwise c (float32) receives a w^T.
void launch_gemm_bf16(const RowTile *tiles, int tile_count, const GemmShape &shape, bool swiglu,
                      const __nv_bfloat16 *a_hi, const __nv_bfloat16 *a_lo, float *c, __nv_bfloat16 *c_hi,
                      __nv_bfloat16 *c_lo, cudaStream_t stream);

// hi = bf16(x), lo = bf16(x - hi), elementwise over n values.
void launch_split_bf16(const float *x, size_t n, __nv_bfloat16 *hi, __nv_bfloat16 *lo, cudaStream_t stream);

}  // namespace moe

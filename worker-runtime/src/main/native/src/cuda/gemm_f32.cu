// The float32 GEMM on CUDA cores in the CPU backend's summation order: 64 x 64 output tiles, 256
// threads of 4 x 4 outputs each, every output accumulated by one thread (see gemm.h).
//
// A faster version would keep the same per-output order and change only how operands arrive:
// 128 x 128 tiles of 8 x 8 per thread, float4 shared-memory reads, loads double-buffered with
// cp.async (or the tensor memory accelerator) so the next K tile streams in during the FMAs; and for
// decode batches (a few rows, where a 64-row tile idles most threads) a tile of few rows and many
// columns. Choosing the tile by the batch size would stay batch-invariant here: no tile shape
// changes an output's order.
#include <algorithm>

#include "cpu/gemm.h"
#include "cuda/cuda_util.h"
#include "cuda/device_math.cuh"
#include "cuda/gemm.h"

namespace moe {
namespace {

constexpr int kBN = 64, kBK = 16, kThreads = 256;
// The CPU's K block and its sub-chunks (cpu/gemm.cpp): their boundaries must fall between K tiles.
constexpr int kSubK = kKC / 4;
static_assert(kSubK % kBK == 0 && kKC % kSubK == 0, "sub-chunk boundaries must fall on K tile boundaries");
static_assert(kTileM == 64, "the thread layout assumes 64-row tiles");

// One 4 x 4 block of outputs' sums in the CPU's order: `chain` is the current sub-chunk's FMA chain,
// `block` the current K block's sum of finished chains, `total` the sum of finished K blocks.
struct Sums {
  float chain[4][4] = {}, block[4][4] = {}, total[4][4] = {};

  __device__ __forceinline__ void fma(const float (&a)[4], const float (&b)[4]) {
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
      for (int j = 0; j < 4; ++j) chain[i][j] = fmaf(a[i], b[j], chain[i][j]);
  }

  // After the K steps up to `end` (exclusive): closes the sub-chunk and the K block that end there.
  __device__ __forceinline__ void fold(int end, int k) {
    if (end % kSubK != 0 && end != k) return;
    const bool first_sub = (end - 1) % kKC < kSubK;
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        block[i][j] = first_sub ? chain[i][j] : __fadd_rn(block[i][j], chain[i][j]);
        chain[i][j] = 0.0f;
      }
    if (end % kKC != 0 && end != k) return;
    const bool first_block = end <= kKC;
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
      for (int j = 0; j < 4; ++j) total[i][j] = first_block ? block[i][j] : __fadd_rn(total[i][j], block[i][j]);
  }
};

template <typename TW, bool kSwiGLU>
__global__ void __launch_bounds__(kThreads)
    gemm_f32_kernel(const RowTile *tiles, int rows, GemmShape shape, const float *__restrict__ a, float *__restrict__ c) {
  // Transposed tiles, [k][row] and [k][col], so the inner loop reads contiguous rows and columns.
  __shared__ float as[kBK][kTileM + 4];
  __shared__ float gs[kBK][kBN + 4];
  __shared__ float us[kSwiGLU ? kBK : 1][kBN + 4];

  RowTile tile;
  if (tiles) {
    tile = tiles[blockIdx.x];
  } else {
    tile.row0 = int(blockIdx.x) * kTileM;
    tile.rows = min(kTileM, rows - tile.row0);
    tile.slot = int(blockIdx.z);
    a += tile.slot * shape.a_slot_offset;
    c += tile.slot * shape.c_slot_offset;
  }
  const int n0 = blockIdx.y * kBN, tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
  const int n = shape.n, k = shape.k;
  const size_t lda = shape.lda, ldc = shape.ldc;
  const TW *w = static_cast<const TW *>(shape.w) + size_t(tile.slot) * shape.slot_stride;
  const TW *gate = w + shape.w_offset;
  const TW *up = w + shape.up_offset;

  Sums g, u;
  for (int k0 = 0; k0 < k; k0 += kBK) {
    for (int e = tid; e < kTileM * kBK; e += kThreads) {
      const int r = e / kBK, kk = e % kBK, kg = k0 + kk;
      as[kk][r] = r < tile.rows && kg < k ? a[size_t(tile.row0 + r) * lda + kg] : 0.0f;
      const int col = n0 + r;  // kBN == kTileM: the same index walks the weight rows
      const bool in = col < n && kg < k;
      gs[kk][r] = in ? to_float(gate[size_t(col) * k + kg]) : 0.0f;
      if constexpr (kSwiGLU) us[kk][r] = in ? to_float(up[size_t(col) * k + kg]) : 0.0f;
    }
    __syncthreads();
    auto step = [&](int kk) {
      float av[4], gv[4], uv[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        av[i] = as[kk][ty * 4 + i];
        gv[i] = gs[kk][tx * 4 + i];
        if constexpr (kSwiGLU) uv[i] = us[kk][tx * 4 + i];
      }
      g.fma(av, gv);
      if constexpr (kSwiGLU) u.fma(av, uv);
    };
    const int len = min(kBK, k - k0);
    if (len == kBK) {
#pragma unroll
      for (int kk = 0; kk < kBK; ++kk) step(kk);
    } else {
      // The CPU's chains stop at k: padding steps would turn a -0 sum into +0.
      for (int kk = 0; kk < len; ++kk) step(kk);
    }
    __syncthreads();
    g.fold(k0 + len, k);
    if constexpr (kSwiGLU) u.fold(k0 + len, k);
  }
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const int r = ty * 4 + i;
    if (r >= tile.rows) continue;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int col = n0 + tx * 4 + j;
      if (col >= n) continue;
      float v;
      if constexpr (kSwiGLU)
        v = swiglu(g.total[i][j], u.total[i][j]);
      else
        v = shape.bias ? __fadd_rn(g.total[i][j], shape.bias[col]) : g.total[i][j];
      c[size_t(tile.row0 + r) * ldc + col] = v;
    }
  }
}

template <typename TW, bool kSwiGLU>
void launch(const RowTile *tiles, int rows, const dim3 &grid, GemmShape shape, const float *a, float *c,
            cudaStream_t stream) {
  if (shape.lda == 0) shape.lda = size_t(shape.k);
  if (shape.ldc == 0) shape.ldc = size_t(shape.n);
  gemm_f32_kernel<TW, kSwiGLU><<<grid, kThreads, 0, stream>>>(tiles, rows, shape, a, c);
  cuda_check(cudaGetLastError(), "gemm_f32_kernel launch");
}

void dispatch(const RowTile *tiles, int rows, const dim3 &grid, const GemmShape &shape, bool w_bf16, bool swiglu,
              const float *a, float *c, cudaStream_t stream) {
  if (w_bf16)
    swiglu ? launch<__nv_bfloat16, true>(tiles, rows, grid, shape, a, c, stream)
           : launch<__nv_bfloat16, false>(tiles, rows, grid, shape, a, c, stream);
  else
    swiglu ? launch<float, true>(tiles, rows, grid, shape, a, c, stream)
           : launch<float, false>(tiles, rows, grid, shape, a, c, stream);
}

unsigned column_tiles(int n) { return unsigned((n + kBN - 1) / kBN); }

}  // namespace

void launch_gemm_f32(const RowTile *tiles, int tile_count, const GemmShape &shape, bool w_bf16, bool swiglu,
                     const float *a, float *c, cudaStream_t stream) {
  if (tile_count == 0) return;
  dispatch(tiles, 0, dim3(unsigned(tile_count), column_tiles(shape.n)), shape, w_bf16, swiglu, a, c, stream);
}

void launch_gemm_dense(int rows, int slots, const GemmShape &shape, bool w_bf16, const float *a, float *c,
                       cudaStream_t stream) {
  if (rows == 0 || slots == 0) return;
  const dim3 grid(unsigned((rows + kTileM - 1) / kTileM), column_tiles(shape.n), unsigned(slots));
  dispatch(nullptr, rows, grid, shape, w_bf16, false, a, c, stream);
}

}  // namespace moe

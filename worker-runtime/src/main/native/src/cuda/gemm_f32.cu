// The float32 grouped GEMM on CUDA cores: 64 x 64 output tiles, 256 threads of 4 x 4 outputs each.
#include "cuda/cuda_util.h"
#include "cuda/device_math.cuh"
#include "cuda/gemm.h"

namespace moe {
namespace {

constexpr int kBN = 64, kBK = 16, kThreads = 256;
static_assert(kTileM == 64, "the thread layout assumes 64-row tiles");

template <typename TW, bool kSwiGLU>
__global__ void __launch_bounds__(kThreads)
    gemm_f32_kernel(const RowTile *tiles, GemmShape shape, const float *__restrict__ a, float *__restrict__ c) {
  // Transposed tiles, [k][row] and [k][col], so the inner loop reads contiguous rows and columns.
  __shared__ float as[kBK][kTileM + 4];
  __shared__ float gs[kBK][kBN + 4];
  __shared__ float us[kSwiGLU ? kBK : 1][kBN + 4];

  const RowTile tile = tiles[blockIdx.x];
  const int n0 = blockIdx.y * kBN, tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
  const int n = shape.n, k = shape.k;
  const TW *w = static_cast<const TW *>(shape.w) + size_t(tile.slot) * shape.slot_stride;
  const TW *gate = w + shape.w_offset;
  const TW *up = w + shape.up_offset;

  float acc_g[4][4] = {}, acc_u[4][4] = {};
  for (int k0 = 0; k0 < k; k0 += kBK) {
    for (int e = tid; e < kTileM * kBK; e += kThreads) {
      const int r = e / kBK, kk = e % kBK, kg = k0 + kk;
      as[kk][r] = r < tile.rows && kg < k ? a[size_t(tile.row0 + r) * k + kg] : 0.0f;
      const int col = n0 + r;  // kBN == kTileM: the same index walks the weight rows
      const bool in = col < n && kg < k;
      gs[kk][r] = in ? to_float(gate[size_t(col) * k + kg]) : 0.0f;
      if constexpr (kSwiGLU) us[kk][r] = in ? to_float(up[size_t(col) * k + kg]) : 0.0f;
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kBK; ++kk) {
      float av[4], gv[4], uv[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        av[i] = as[kk][ty * 4 + i];
        gv[i] = gs[kk][tx * 4 + i];
        if constexpr (kSwiGLU) uv[i] = us[kk][tx * 4 + i];
      }
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) {
          acc_g[i][j] = fmaf(av[i], gv[j], acc_g[i][j]);
          if constexpr (kSwiGLU) acc_u[i][j] = fmaf(av[i], uv[j], acc_u[i][j]);
        }
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const int r = ty * 4 + i;
    if (r >= tile.rows) continue;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int col = n0 + tx * 4 + j;
      if (col >= n) continue;
      c[size_t(tile.row0 + r) * n + col] = kSwiGLU ? swiglu(acc_g[i][j], acc_u[i][j]) : acc_g[i][j];
    }
  }
}

template <typename TW, bool kSwiGLU>
void launch(const RowTile *tiles, int tile_count, const GemmShape &shape, const float *a, float *c,
            cudaStream_t stream) {
  const dim3 grid(unsigned(tile_count), unsigned((shape.n + kBN - 1) / kBN));
  gemm_f32_kernel<TW, kSwiGLU><<<grid, kThreads, 0, stream>>>(tiles, shape, a, c);
  cuda_check(cudaGetLastError(), "gemm_f32_kernel launch");
}

}  // namespace

void launch_gemm_f32(const RowTile *tiles, int tile_count, const GemmShape &shape, bool w_bf16, bool swiglu,
                     const float *a, float *c, cudaStream_t stream) {
  if (tile_count == 0) return;
  if (w_bf16)
    swiglu ? launch<__nv_bfloat16, true>(tiles, tile_count, shape, a, c, stream)
           : launch<__nv_bfloat16, false>(tiles, tile_count, shape, a, c, stream);
  else
    swiglu ? launch<float, true>(tiles, tile_count, shape, a, c, stream)
           : launch<float, false>(tiles, tile_count, shape, a, c, stream);
}

}  // namespace moe

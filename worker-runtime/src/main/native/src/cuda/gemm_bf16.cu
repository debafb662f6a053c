// The bf16 grouped GEMM on tensor cores (WMMA 16x16x16, float32 accumulation): 64 x 64 output
// tiles, four warps of 32 x 32. Activations come as hi + lo bf16 halves, each multiplied with the
// weights, so the result is close to float32 activations times bf16 weights.
#include <mma.h>

#include "cuda/cuda_util.h"
#include "cuda/device_math.cuh"
#include "cuda/gemm.h"

namespace moe {
namespace {

using namespace nvcuda;

constexpr int kBN = 64, kBK = 32, kThreads = 128;
constexpr int kLd = kBK + 8;       // bf16 tile row stride: a multiple of 8 elements, staggers banks
constexpr int kCLd = kBN + 4;      // float32 result tile row stride
static_assert(kTileM == 64, "the warp layout assumes 64-row tiles");

struct Operands {
  __nv_bfloat16 a_hi[kTileM][kLd], a_lo[kTileM][kLd], gate[kBN][kLd], up[kBN][kLd];
};
struct Results {
  float gate[kTileM][kCLd], up[kTileM][kCLd];
};
// The operand tiles are dead once the results are stored, so both share the same memory.
union alignas(32) SharedTiles {
  Operands in;
  Results out;
};

template <bool kSwiGLU>
__global__ void __launch_bounds__(kThreads)
    gemm_bf16_kernel(const RowTile *tiles, GemmShape shape, const __nv_bfloat16 *__restrict__ a_hi,
                     const __nv_bfloat16 *__restrict__ a_lo, float *__restrict__ c,
                     __nv_bfloat16 *__restrict__ c_hi, __nv_bfloat16 *__restrict__ c_lo) {
  __shared__ SharedTiles smem;
  const RowTile tile = tiles[blockIdx.x];
  const int n0 = blockIdx.y * kBN, tid = threadIdx.x, warp = tid / 32;
  const int wm = warp / 2, wn = warp % 2;  // the warp's 32 x 32 quarter
  const int n = shape.n, k = shape.k;
  const __nv_bfloat16 *w = static_cast<const __nv_bfloat16 *>(shape.w) + size_t(tile.slot) * shape.slot_stride;
  const __nv_bfloat16 *gate = w + shape.w_offset;
  const __nv_bfloat16 *up = w + shape.up_offset;
  const __nv_bfloat16 zero = __float2bfloat16(0.0f);

  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc_g[2][2], acc_u[2][2];
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 2; ++j) {
      wmma::fill_fragment(acc_g[i][j], 0.0f);
      if constexpr (kSwiGLU) wmma::fill_fragment(acc_u[i][j], 0.0f);
    }

  for (int k0 = 0; k0 < k; k0 += kBK) {
    for (int e = tid; e < kTileM * kBK; e += kThreads) {
      const int r = e / kBK, kk = e % kBK, kg = k0 + kk;
      const bool a_in = r < tile.rows && kg < k;
      const size_t a_at = size_t(tile.row0 + r) * k + kg;
      smem.in.a_hi[r][kk] = a_in ? a_hi[a_at] : zero;
      smem.in.a_lo[r][kk] = a_in ? a_lo[a_at] : zero;
      const int col = n0 + r;  // kBN == kTileM: the same index walks the weight rows
      const bool w_in = col < n && kg < k;
      smem.in.gate[r][kk] = w_in ? gate[size_t(col) * k + kg] : zero;
      if constexpr (kSwiGLU) smem.in.up[r][kk] = w_in ? up[size_t(col) * k + kg] : zero;
    }
    __syncthreads();
    for (int kk = 0; kk < kBK; kk += 16) {
      wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major> fa_hi[2], fa_lo[2];
      for (int i = 0; i < 2; ++i) {
        wmma::load_matrix_sync(fa_hi[i], &smem.in.a_hi[wm * 32 + i * 16][kk], kLd);
        wmma::load_matrix_sync(fa_lo[i], &smem.in.a_lo[wm * 32 + i * 16][kk], kLd);
      }
      for (int j = 0; j < 2; ++j) {
        // w is [n, k] row-major: as the k x n operand it is column-major with stride kLd.
        wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::col_major> fg, fu;
        wmma::load_matrix_sync(fg, &smem.in.gate[wn * 32 + j * 16][kk], kLd);
        if constexpr (kSwiGLU) wmma::load_matrix_sync(fu, &smem.in.up[wn * 32 + j * 16][kk], kLd);
        for (int i = 0; i < 2; ++i) {
          wmma::mma_sync(acc_g[i][j], fa_hi[i], fg, acc_g[i][j]);
          wmma::mma_sync(acc_g[i][j], fa_lo[i], fg, acc_g[i][j]);
          if constexpr (kSwiGLU) {
            wmma::mma_sync(acc_u[i][j], fa_hi[i], fu, acc_u[i][j]);
            wmma::mma_sync(acc_u[i][j], fa_lo[i], fu, acc_u[i][j]);
          }
        }
      }
    }
    __syncthreads();
  }

  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 2; ++j) {
      const int r = wm * 32 + i * 16, col = wn * 32 + j * 16;
      wmma::store_matrix_sync(&smem.out.gate[r][col], acc_g[i][j], kCLd, wmma::mem_row_major);
      if constexpr (kSwiGLU) wmma::store_matrix_sync(&smem.out.up[r][col], acc_u[i][j], kCLd, wmma::mem_row_major);
    }
  __syncthreads();
  for (int e = tid; e < kTileM * kBN; e += kThreads) {
    const int r = e / kBN, j = e % kBN, col = n0 + j;
    if (r >= tile.rows || col >= n) continue;
    const size_t at = size_t(tile.row0 + r) * n + col;
    if constexpr (kSwiGLU)
      split_bf16(swiglu(smem.out.gate[r][j], smem.out.up[r][j]), c_hi[at], c_lo[at]);
    else
      c[at] = smem.out.gate[r][j];
  }
}

__global__ void split_kernel(const float *__restrict__ x, size_t n, __nv_bfloat16 *__restrict__ hi,
                             __nv_bfloat16 *__restrict__ lo) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x)
    split_bf16(x[i], hi[i], lo[i]);
}

}  // namespace

void launch_gemm_bf16(const RowTile *tiles, int tile_count, const GemmShape &shape, bool swiglu,
                      const __nv_bfloat16 *a_hi, const __nv_bfloat16 *a_lo, float *c, __nv_bfloat16 *c_hi,
                      __nv_bfloat16 *c_lo, cudaStream_t stream) {
  if (tile_count == 0) return;
  const dim3 grid(unsigned(tile_count), unsigned((shape.n + kBN - 1) / kBN));
  if (swiglu)
    gemm_bf16_kernel<true><<<grid, kThreads, 0, stream>>>(tiles, shape, a_hi, a_lo, c, c_hi, c_lo);
  else
    gemm_bf16_kernel<false><<<grid, kThreads, 0, stream>>>(tiles, shape, a_hi, a_lo, c, c_hi, c_lo);
  cuda_check(cudaGetLastError(), "gemm_bf16_kernel launch");
}

void launch_split_bf16(const float *x, size_t n, __nv_bfloat16 *hi, __nv_bfloat16 *lo, cudaStream_t stream) {
  if (n == 0) return;
  const unsigned blocks = unsigned(std::min<size_t>((n + 255) / 256, 65535));
  split_kernel<<<blocks, 256, 0, stream>>>(x, n, hi, lo);
  cuda_check(cudaGetLastError(), "split_kernel launch");
}

}  // namespace moe

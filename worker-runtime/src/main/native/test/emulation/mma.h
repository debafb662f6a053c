// WMMA for the CUDA emulation (see cuda_runtime.h beside this): every lane holds the whole 16 x 16 tile
// and does the whole warp's work, so the results are the warp's; products are summed in index order,
// which the tensor cores need not do (so only tolerances, not bits, carry over to a GPU).
#pragma once

#include <cstring>
#include <type_traits>

#include "cuda_bf16.h"

namespace nvcuda {
namespace wmma {

struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
enum layout_t { mem_row_major, mem_col_major };

template <typename Use, int M, int N, int K, typename T, typename Layout = void>
struct fragment {
  static_assert(M == 16 && N == 16 && K == 16, "the emulation knows 16 x 16 x 16 tiles only");
  float x[16][16];  // [row][column] of the operand (A: m x k, B: k x n, C: m x n)
};

template <typename Use, typename T, typename Layout>
void load_matrix_sync(fragment<Use, 16, 16, 16, T, Layout> &f, const __nv_bfloat16 *p, unsigned ldm) {
  emu::sync_warp();
  for (int r = 0; r < 16; ++r)
    for (int c = 0; c < 16; ++c)
      f.x[r][c] = __bfloat162float(std::is_same<Layout, row_major>::value ? p[r * ldm + c] : p[c * ldm + r]);
  emu::sync_warp();
}

template <typename T>
void fill_fragment(fragment<accumulator, 16, 16, 16, T> &f, float v) {
  for (auto &row : f.x)
    for (float &e : row) e = v;
}

template <typename La, typename Lb>
void mma_sync(fragment<accumulator, 16, 16, 16, float> &d, const fragment<matrix_a, 16, 16, 16, __nv_bfloat16, La> &a,
              const fragment<matrix_b, 16, 16, 16, __nv_bfloat16, Lb> &b,
              const fragment<accumulator, 16, 16, 16, float> &c) {
  float out[16][16];
  for (int m = 0; m < 16; ++m)
    for (int n = 0; n < 16; ++n) {
      float s = c.x[m][n];
      for (int k = 0; k < 16; ++k) s += a.x[m][k] * b.x[k][n];
      out[m][n] = s;
    }
  std::memcpy(d.x, out, sizeof out);
}

inline void store_matrix_sync(float *p, const fragment<accumulator, 16, 16, 16, float> &f, unsigned ldm, layout_t layout) {
  emu::sync_warp();
  if (emu::self().lane == 0)
    for (int r = 0; r < 16; ++r)
      for (int c = 0; c < 16; ++c) (layout == mem_row_major ? p[r * ldm + c] : p[c * ldm + r]) = f.x[r][c];
  emu::sync_warp();
}

}  // namespace wmma
}  // namespace nvcuda

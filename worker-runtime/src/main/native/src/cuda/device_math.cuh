// Device helpers shared by the kernels. The float arithmetic here repeats the CPU backend's step by
// step (src/cpu/simd.h, gemm.cpp, norm.cpp, attention.cpp): the same operations, each rounded to
// float32 in the same order, so a CUDA result can equal the CPU's bit for bit. Products and sums
// that the CPU computes separately use __fmul_rn / __fadd_rn, which are never contracted into an FMA;
// its FMAs are fmaf.
#pragma once

#include <cuda_bf16.h>

namespace moe {

__device__ __forceinline__ float to_float(float v) { return v; }
__device__ __forceinline__ float to_float(__nv_bfloat16 v) { return __bfloat162float(v); }

// simd.h's exp256 on one lane: Cephes' expf, clamped; a NaN stays NaN. _mm256_max_ps(a, b) and
// _mm256_min_ps(a, b) return b when either is NaN, as the ternaries below do.
__device__ __forceinline__ float cpu_exp(float x) {
  x = -87.3f > x ? -87.3f : x;
  x = 88.3f < x ? 88.3f : x;
  const float n = rintf(__fmul_rn(x, 1.44269504088896341f));
  float r = fmaf(-n, 0.693359375f, x);
  r = fmaf(-n, -2.12194440e-4f, r);
  float p = 1.9875691500e-4f;
  p = fmaf(p, r, 1.3981999507e-3f);
  p = fmaf(p, r, 8.3334519073e-3f);
  p = fmaf(p, r, 4.1665795894e-2f);
  p = fmaf(p, r, 1.6666665459e-1f);
  p = fmaf(p, r, 5.0000001201e-1f);
  p = __fadd_rn(fmaf(p, __fmul_rn(r, r), r), 1.0f);
  return __fmul_rn(p, __int_as_float((__float2int_rn(n) + 127) << 23));
}

// gemm.cpp's SwiGLU epilogue: silu(g) * u = g / (1 + exp(0 - g)) * u.
__device__ __forceinline__ float swiglu(float g, float u) {
  return __fmul_rn(__fdiv_rn(g, __fadd_rn(1.0f, cpu_exp(__fsub_rn(0.0f, g)))), u);
}

// norm.cpp's RMSNorm factor r = 1 / sqrt(sum(x^2) / dim + eps), the squares summed in index order.
// Sequential by definition: one thread computes it.
__device__ __forceinline__ float rms_factor(const float *x, int dim, float eps) {
  float ss = 0.0f;
#pragma unroll 8
  for (int i = 0; i < dim; ++i) ss = __fadd_rn(ss, __fmul_rn(x[i], x[i]));
  return __fdiv_rn(1.0f, __fsqrt_rn(__fadd_rn(__fdiv_rn(ss, float(dim)), eps)));
}

// The normalised value w * (x * r).
__device__ __forceinline__ float rms_apply(float x, float r, float w) { return __fmul_rn(w, __fmul_rn(x, r)); }

// attention.cpp's clamp: std::min(std::max(x, -limit), limit), which keeps a NaN.
__device__ __forceinline__ float cpu_clamp(float x, float limit) {
  x = x < -limit ? -limit : x;
  return limit < x ? limit : x;
}

// attention.cpp's apply_rope on one pair (a, b) with cos c and sin s: (a c - b s, b c + a s).
__device__ __forceinline__ void rotate_pair(float &a, float &b, float c, float s) {
  const float x = a, y = b;
  a = __fsub_rn(__fmul_rn(x, c), __fmul_rn(y, s));
  b = __fadd_rn(__fmul_rn(y, c), __fmul_rn(x, s));
}

// One key's score as simd.h's dot8 sums it, computed by a whole warp, every lane returning it:
// lane l < 8 accumulates the products of index l mod 8 over the blocks of 8 in order (FMA), the eight
// sums are added as ((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7)), then the scalar tail in index
// order (a rounded product and a rounded sum each).
__device__ __forceinline__ float key_dot(const float *q, const float *k, int n, int lane) {
  constexpr unsigned kAll = 0xffffffffu;
  const int n8 = n & ~7;
  float p = 0.0f;
  if (lane < 8)
    for (int i = 0; i < n8; i += 8) p = fmaf(q[i + lane], k[i + lane], p);
  const float pairs = __fadd_rn(p, __shfl_down_sync(kAll, p, 1));       // lanes 0, 2, 4, 6
  const float quads = __fadd_rn(pairs, __shfl_down_sync(kAll, pairs, 2));  // lanes 0, 4
  float s = __shfl_sync(kAll, __fadd_rn(quads, __shfl_down_sync(kAll, quads, 4)), 0);
  for (int i = n8; i < n; ++i) s = __fadd_rn(s, __fmul_rn(q[i], k[i]));
  return s;
}

__device__ __forceinline__ void split_bf16(float v, __nv_bfloat16 &hi, __nv_bfloat16 &lo) {
  hi = __float2bfloat16_rn(v);
  lo = __float2bfloat16_rn(v - __bfloat162float(hi));
}

}  // namespace moe

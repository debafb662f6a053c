// AVX2 helpers shared by the CPU kernels. Every reduction here has an order fixed by its length
// alone, so a row's result never depends on what else is computed beside it.
#pragma once

#include <immintrin.h>

namespace moe {

// exp(x) for float32 lanes: Cephes' expf (range reduction by ln 2, degree-6 polynomial), about
// 1 ulp; arguments are clamped to keep 2^n a normal float. A NaN stays NaN (min/max return their
// second operand when either is NaN).
inline __m256 exp256(__m256 x) {
  x = _mm256_min_ps(_mm256_set1_ps(88.3f), _mm256_max_ps(_mm256_set1_ps(-87.3f), x));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_add_ps(_mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r), _mm256_set1_ps(1.0f));
  const __m256i scale = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(scale));
}

// The sum of a vector's 8 lanes, in a fixed order: ((0+4)+(2+6)) + ((1+5)+(3+7)).
inline float hsum(__m256 v) {
  const __m128 a = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 b = _mm_add_ps(a, _mm_movehl_ps(a, a));
  return _mm_cvtss_f32(_mm_add_ss(b, _mm_movehdup_ps(b)));
}

// The dot products of q with eight keys k[t] + off (n floats each), as a vector of the eight sums:
// key t's lanes are summed by the same fixed tree whatever the other keys, then its scalar tail in
// index order, so a key's score does not depend on which keys share the call.
inline __m256 dot8(const float *q, const float *const k[8], int off, int n) {
  __m256 acc[8];
#pragma GCC unroll 8
  for (int t = 0; t < 8; ++t) acc[t] = _mm256_setzero_ps();
  int d = 0;
  for (; d + 8 <= n; d += 8) {
    const __m256 qv = _mm256_loadu_ps(q + d);
#pragma GCC unroll 8
    for (int t = 0; t < 8; ++t) acc[t] = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k[t] + off + d), acc[t]);
  }
  // hadd pairs neighbouring lanes of one vector only: key t's sum is
  // ((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7)) of its own accumulator.
  const __m256 a = _mm256_hadd_ps(acc[0], acc[1]), b = _mm256_hadd_ps(acc[2], acc[3]);
  const __m256 c = _mm256_hadd_ps(acc[4], acc[5]), e = _mm256_hadd_ps(acc[6], acc[7]);
  const __m256 ab = _mm256_hadd_ps(a, b), ce = _mm256_hadd_ps(c, e);
  __m256 sum = _mm256_add_ps(_mm256_permute2f128_ps(ab, ce, 0x20), _mm256_permute2f128_ps(ab, ce, 0x31));
  if (d < n) {
    alignas(32) float s[8];
    _mm256_store_ps(s, sum);
    for (int t = 0; t < 8; ++t)
      for (int i = d; i < n; ++i) s[t] += q[i] * k[t][off + i];
    sum = _mm256_load_ps(s);
  }
  return sum;
}

}  // namespace moe

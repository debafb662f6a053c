// The AVX2/FMA micro-kernel and the blocked loop around it (see gemm.h for the layout).
#include "cpu/gemm.h"

#include <immintrin.h>

#include <array>

#include "cpu/simd.h"

namespace moe {
namespace {

// silu(g) * u = g / (1 + exp(-g)) * u; a NaN in g or u stays NaN.
inline __m256 swiglu(__m256 g, __m256 u) {
  const __m256 one = _mm256_set1_ps(1.0f);
  return _mm256_mul_ps(_mm256_div_ps(g, _mm256_add_ps(one, exp256(_mm256_sub_ps(_mm256_setzero_ps(), g)))), u);
}

// Weights stream from memory once per row block; the hardware prefetcher alone falls behind when
// the core is also busy computing (a few rows), so the kernel asks for the panel data this far ahead
// (half an f32 panel block, a whole bf16 one; past the block's end it reaches the next panel, which
// follows in memory). Measured best among 2, 4, 8 and 16 KiB on 1-8 rows.
constexpr size_t kPrefetchBytes = 8192;

// Where the micro-kernel's B operand comes from.
enum class Source {
  kF32,      // packed f32 weights, streaming from memory
  kBf16,     // packed bf16 weights, streaming, widened in registers
  kWidened,  // a bf16 block widened into a small L1 buffer: nothing to prefetch (and past the
             // buffer's end lies unmapped memory, where a prefetch costs a page walk)
};

template <bool kBf16>
inline void prefetch_b(const void *b, int k) {
  _mm_prefetch(static_cast<const char *>(b) + size_t(k) * kNR * (kBf16 ? 2 : 4) + kPrefetchBytes, _MM_HINT_T0);
}

template <bool kBf16>
inline void load_b(const void *b, int k, __m256 &b0, __m256 &b1) {
  if constexpr (kBf16) {
    // Word j holds lane j (low half) and lane j + 8 (high half): bf16 is the top half of a float.
    const auto *row = static_cast<const uint16_t *>(b) + size_t(k) * kNR;
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(row));
    b0 = _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
    b1 = _mm256_castsi256_ps(_mm256_and_si256(v, _mm256_set1_epi32(int(0xffff0000u))));
  } else {
    const float *p = static_cast<const float *>(b) + size_t(k) * kNR;
    b0 = _mm256_loadu_ps(p);
    b1 = _mm256_loadu_ps(p + 8);
  }
}

// The order in which one output element sums a K block is the same whatever the number of rows
// sharing its micro-tile, so a row's result never depends on the batch: the block is cut into
// sub-chunks of kSub steps at fixed offsets, each summed by its own FMA chain from zero, and the
// chains are added in order, ((s0 + s1) + s2) + s3. A tile of few rows has too few accumulators to
// cover the FMA latency (4 cycles, 2 ports), so it runs several sub-chunks' chains at once; a tile
// of many rows has enough independent rows and runs them one after another.
constexpr int kSub = kKC / 4;

template <int MR>
constexpr int concurrent_chains() {
  return MR == 1 ? 4 : MR <= 3 ? 2 : 1;
}

// One step k of one chain: acc[i] += a[k][i] * b[k] for the tile's rows.
template <int MR, bool kBf16>
inline void fma_step(const float *a, const void *b, int k, __m256 (&acc)[MR][2]) {
  __m256 b0, b1;
  load_b<kBf16>(b, k, b0, b1);
  const float *ak = a + size_t(k) * kMR;
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) {
    const __m256 ai = _mm256_broadcast_ss(ak + i);
    acc[i][0] = _mm256_fmadd_ps(ai, b0, acc[i][0]);
    acc[i][1] = _mm256_fmadd_ps(ai, b1, acc[i][1]);
  }
}

// Adds c to total in order (or starts total with c when `fresh`).
template <int MR>
inline void fold(__m256 (&total)[MR][2], const __m256 (&c)[MR][2], bool fresh) {
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) {
    total[i][0] = fresh ? c[i][0] : _mm256_add_ps(total[i][0], c[i][0]);
    total[i][1] = fresh ? c[i][1] : _mm256_add_ps(total[i][1], c[i][1]);
  }
}

// Sub-chunk `first` of a block of `len` steps, one chain, added to `total`. (A plain loop: written
// through run_chains' multi-stream form, the same steps streamed weights from memory up to 1.7x
// slower at 4 rows.)
template <int MR, Source kSource>
inline void run_chain(int len, const float *a, const void *b, int first, __m256 (&total)[MR][2]) {
  constexpr bool kBf16 = kSource == Source::kBf16;
  __m256 c[MR][2];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) c[i][0] = c[i][1] = _mm256_setzero_ps();
  const int k1 = std::min(len, (first + 1) * kSub);
  for (int k = first * kSub; k < k1; ++k) {
    if constexpr (kSource != Source::kWidened) prefetch_b<kBf16>(b, k);
    fma_step<MR, kBf16>(a, b, k, c);
  }
  fold<MR>(total, c, first == 0);
}

// Sub-chunks first..first+N-1 of a block of `len` steps (all but the last of them full), N >= 2
// chains at once, added to `total` in order.
template <int MR, int N, Source kSource>
inline void run_chains(int len, const float *a, const void *b, int first, __m256 (&total)[MR][2]) {
  constexpr bool kBf16 = kSource == Source::kBf16;
  // The chains read N streams kSub rows apart; the prefetch sweeps the same rows linearly one
  // group ahead (the next group of this block, or the next panel's block that follows in memory).
  constexpr size_t kRowBytes = size_t(kNR) * (kBf16 ? 2 : 4);
  constexpr size_t kAhead = size_t(N) * kSub * kRowBytes;
  __m256 c[N][MR][2];
#pragma GCC unroll 8
  for (int s = 0; s < N; ++s)
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) c[s][i][0] = c[s][i][1] = _mm256_setzero_ps();
  const int k0 = first * kSub;
  const int last_len = std::min(kSub, len - (k0 + (N - 1) * kSub));
  auto step = [&](int j) {
#pragma GCC unroll 8
    for (int s = 0; s < N; ++s) {
      if constexpr (kSource != Source::kWidened)
        _mm_prefetch(static_cast<const char *>(b) + size_t(k0 + N * j + s) * kRowBytes + kAhead, _MM_HINT_T0);
      fma_step<MR, kBf16>(a, b, k0 + s * kSub + j, c[s]);
    }
  };
  // Two chains' steps are short: unrolled, they lose the loop overhead.
  int j = 0;
  if constexpr (N == 2) {
#pragma GCC unroll 4
    for (; j < last_len; ++j) step(j);
  } else {
    for (; j < last_len; ++j) step(j);
  }
  // The full chains' remaining steps when the last sub-chunk is short.
  for (; j < kSub; ++j)
#pragma GCC unroll 8
    for (int s = 0; s < N - 1; ++s) fma_step<MR, kBf16>(a, b, k0 + s * kSub + j, c[s]);
#pragma GCC unroll 8
  for (int s = 0; s < N; ++s) fold<MR>(total, c[s], first + s == 0);
}

// acc[i] = sum_k a[k][i] * b[k] over one K block: a packed [len][kMR], b a panel block [len][16].
template <int MR, Source kSource>
inline void micro_kernel(int len, const float *a, const void *b, __m256 (&acc)[MR][2]) {
  constexpr int C = concurrent_chains<MR>();
  const int subs = (len + kSub - 1) / kSub;
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) acc[i][0] = acc[i][1] = _mm256_setzero_ps();  // overwritten; len >= 1
  int s = 0;
  if constexpr (C >= 4)
    for (; s + 4 <= subs; s += 4) run_chains<MR, 4, kSource>(len, a, b, s, acc);
  if constexpr (C >= 2)
    for (; s + 2 <= subs; s += 2) run_chains<MR, 2, kSource>(len, a, b, s, acc);
  for (; s < subs; ++s) run_chain<MR, kSource>(len, a, b, s, acc);
}

inline __m256i lane_mask(int valid) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(valid), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// c[i][0..16) (= or +=) acc[i], then + bias[0..16) where bias is not null, only the first
// `valid` columns.
template <int MR>
inline void store_tile(__m256 (&acc)[MR][2], float *c, size_t ldc, bool accumulate, int valid,
                       const float *bias = nullptr) {
  if (valid >= kNR) {
    __m256 bias0 = _mm256_setzero_ps(), bias1 = _mm256_setzero_ps();
    if (bias) {
      bias0 = _mm256_loadu_ps(bias);
      bias1 = _mm256_loadu_ps(bias + 8);
    }
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      float *row = c + size_t(i) * ldc;
      __m256 v0 = acc[i][0], v1 = acc[i][1];
      if (accumulate) {
        v0 = _mm256_add_ps(v0, _mm256_loadu_ps(row));
        v1 = _mm256_add_ps(v1, _mm256_loadu_ps(row + 8));
      }
      if (bias) {
        v0 = _mm256_add_ps(v0, bias0);
        v1 = _mm256_add_ps(v1, bias1);
      }
      _mm256_storeu_ps(row, v0);
      _mm256_storeu_ps(row + 8, v1);
    }
    return;
  }
  const __m256i m0 = lane_mask(valid), m1 = lane_mask(valid - 8);
  const __m256 bias0 = bias ? _mm256_maskload_ps(bias, m0) : _mm256_setzero_ps();
  const __m256 bias1 = bias ? _mm256_maskload_ps(bias + 8, m1) : _mm256_setzero_ps();
  for (int i = 0; i < MR; ++i) {
    float *row = c + size_t(i) * ldc;
    __m256 v0 = acc[i][0], v1 = acc[i][1];
    if (accumulate) {
      v0 = _mm256_add_ps(v0, _mm256_maskload_ps(row, m0));
      v1 = _mm256_add_ps(v1, _mm256_maskload_ps(row + 8, m1));
    }
    if (bias) {
      v0 = _mm256_add_ps(v0, bias0);
      v1 = _mm256_add_ps(v1, bias1);
    }
    _mm256_maskstore_ps(row, m0, v0);
    _mm256_maskstore_ps(row + 8, m1, v1);
  }
}

// h[i][0..8) = silu(gate) * up, gate and up being acc plus the partial sums of earlier K blocks.
template <int MR>
inline void swiglu_tile(__m256 (&acc)[MR][2], const float *partial, size_t ldp, float *h, size_t ldh) {
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) {
    __m256 g = acc[i][0], u = acc[i][1];
    if (partial) {
      g = _mm256_add_ps(g, _mm256_loadu_ps(partial + size_t(i) * ldp));
      u = _mm256_add_ps(u, _mm256_loadu_ps(partial + size_t(i) * ldp + 8));
    }
    _mm256_storeu_ps(h + size_t(i) * ldh, swiglu(g, u));
  }
}

// Where one micro-tile's result goes.
struct TileContext {
  const GemmItem *item;
  float *partial;  // gate/up partial sums, [rows][kNCP * kNR]
  bool first, last;
};

constexpr size_t kPartialLd = size_t(kNCP) * kNR;

template <int MR, Source kSource>
void tile(const TileContext &t, int len, const float *a, const void *b, int row, int panel, int local_panel) {
  __m256 acc[MR][2];
  micro_kernel<MR, kSource>(len, a, b, acc);
  const GemmItem &it = *t.item;
  if (it.epilogue == Epilogue::kStore) {
    store_tile<MR>(acc, it.c + size_t(row) * it.ldc + size_t(panel) * kNR, it.ldc, !t.first, it.n - panel * kNR,
                   t.last && it.bias ? it.bias + size_t(panel) * kNR : nullptr);
    return;
  }
  float *p = t.partial ? t.partial + size_t(row) * kPartialLd + size_t(local_panel) * kNR : nullptr;
  if (!t.last)
    store_tile<MR>(acc, p, kPartialLd, !t.first, kNR);
  else
    swiglu_tile<MR>(acc, t.first ? nullptr : p, kPartialLd, it.c + size_t(row) * it.ldc + size_t(panel) * 8, it.ldc);
}

using TileFn = void (*)(const TileContext &, int, const float *, const void *, int, int, int);
template <Source kSource>
constexpr std::array<TileFn, kMR> tiles_for() {
  return {tile<1, kSource>, tile<2, kSource>, tile<3, kSource>, tile<4, kSource>, tile<5, kSource>, tile<6, kSource>};
}
// Indexed by Source, then by rows - 1.
constexpr std::array<TileFn, kMR> kTiles[3] = {tiles_for<Source::kF32>(), tiles_for<Source::kBf16>(),
                                               tiles_for<Source::kWidened>()};

// Rows [0, m) of a, packed per K block as row panels of [len][kMR] (rows past m are zeros).
void pack_a(const float *a, size_t lda, int m, const PanelLayout &layout, float *out) {
  const int row_panels = (m + kMR - 1) / kMR;
  for (int kb = 0; kb < layout.k_blocks(); ++kb) {
    const int len = layout.block_len(kb), k0 = kb * kKC;
    float *block = out + size_t(kb) * kKC * row_panels * kMR;
    for (int ip = 0; ip < row_panels; ++ip) {
      float *dst = block + size_t(ip) * len * kMR;
      for (int i = 0; i < kMR; ++i) {
        const int r = ip * kMR + i;
        if (r < m) {
          const float *src = a + size_t(r) * lda + k0;
          for (int kk = 0; kk < len; ++kk) dst[size_t(kk) * kMR + i] = src[kk];
        } else {
          for (int kk = 0; kk < len; ++kk) dst[size_t(kk) * kMR + i] = 0.0f;
        }
      }
    }
  }
}

// A bf16 panel block as float32 in lane order, for reuse by several row panels.
void widen_block(const void *b, int len, float *out) {
  for (int k = 0; k < len; ++k) {
    __m256 b0, b1;
    prefetch_b<true>(b, k);
    load_b<true>(b, k, b0, b1);
    _mm256_storeu_ps(out + size_t(k) * kNR, b0);
    _mm256_storeu_ps(out + size_t(k) * kNR + 8, b1);
  }
}

}  // namespace

void run_gemm_item(const GemmItem &item, GemmScratch &scratch) {
  const PanelLayout &layout = *item.layout;
  const int row_panels = (item.m + kMR - 1) / kMR, k_blocks = layout.k_blocks();
  const bool bf16 = layout.dtype == MOE_BF16;
  // Widening a bf16 block once pays off when many row panels read it; a few row panels widen in
  // registers instead (a shift and a mask per k, cheap while the weights stream from memory).
  const bool widen = bf16 && row_panels >= 4;
  const size_t elem = bf16 ? 2 : 4;

  scratch.a_packed.reserve(size_t(row_panels) * kMR * layout.k * sizeof(float));
  float *a_packed = scratch.a_packed.as<float>();
  pack_a(item.a, item.lda, item.m, layout, a_packed);
  if (widen) scratch.b_wide.reserve(size_t(kKC) * kNR * sizeof(float));
  TileContext t{&item, nullptr, false, false};
  if (item.epilogue == Epilogue::kSwiGLU && k_blocks > 1) {
    scratch.partial.reserve(size_t(row_panels) * kMR * kPartialLd * sizeof(float));
    t.partial = scratch.partial.as<float>();
  }

  for (int q0 = item.p0; q0 < item.p1; q0 += kNCP) {
    const int q1 = std::min(item.p1, q0 + kNCP);
    for (int kb = 0; kb < k_blocks; ++kb) {
      const int len = layout.block_len(kb);
      t.first = kb == 0;
      t.last = kb == k_blocks - 1;
      const float *a_block = a_packed + size_t(kb) * kKC * row_panels * kMR;
      for (int p = q0; p < q1; ++p) {
        const void *b = static_cast<const char *>(item.b) + layout.offset(kb, p, 0) * elem;
        Source source = bf16 ? Source::kBf16 : Source::kF32;
        if (widen) {
          widen_block(b, len, scratch.b_wide.as<float>());
          b = scratch.b_wide.data();
          source = Source::kWidened;
        }
        for (int ip = 0; ip < row_panels; ++ip) {
          const int mr = std::min(kMR, item.m - ip * kMR);
          kTiles[int(source)][mr - 1](t, len, a_block + size_t(ip) * len * kMR, b, ip * kMR, p, p - q0);
        }
      }
    }
  }
}

}  // namespace moe

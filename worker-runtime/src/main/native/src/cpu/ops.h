// Backend-independent host operations behind the C API. Arguments arrive validated by api.cpp.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

namespace moe {

void router_softmax_topk(const float *logits, int tokens, int experts, int k, bool normalize, int32_t *ids,
                         float *weights);

void router_sigmoid_group_topk(const float *logits, const float *bias, int tokens, int experts, int n_group,
                               int topk_group, int k, bool normalize, float scale, int32_t *ids,
                               float *weights);

// RMSNorm of one row (moe_rms_norm): y = w * (x * r), r = 1 / sqrt(sum(x^2) / dim + eps), the sum
// of squares in float32 in index order. y may equal x.
void rms_norm_row(const float *x, int dim, const float *w, float eps, float *y);

// RoPE at position p for `pairs` pairs: table[i] = cos and table[pairs + i] = sin of the angle
// float(p) * inv_freq[i] (one float32 product, as transformers computes it), each rounded from double and
// times `scale`. Shared by both backends so their tables are the same bits.
inline void rope_cos_sin(int p, const float *inv_freq, int pairs, float scale, float *table) {
  for (int i = 0; i < pairs; ++i) {
    const float angle = float(p) * inv_freq[i];
    table[i] = float(std::cos(double(angle))) * scale;
    table[pairs + i] = float(std::sin(double(angle))) * scale;
  }
}

void combine(const float *rows, const int32_t *row_of, const float *weights, int tokens, int k, int hidden,
             float *out);

// 64-bit FNV-1a, resumable: pass the previous result as `state` to hash a stream in pieces.
constexpr uint64_t kFnvOffset = 0xcbf29ce484222325ull;
uint64_t fnv1a(const void *bytes, size_t n, uint64_t state = kFnvOffset);

double bench_fma_peak_gflops(int threads, double seconds);
double bench_read_bandwidth_gbs(size_t bytes, int threads, double seconds);

}  // namespace moe

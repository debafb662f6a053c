// Attention on the CPU: projections through the packed GEMM, per-row norms, clip and RoPE, keys and
// values into the paged cache, then each (row, head) attends to its sequence's positions.
//
// Batch invariance: every step computes a row from that row's data alone, in an order fixed by the
// row's position (the keys lo..p in order, block boundaries at absolute positions); work is split
// over rows and heads, never inside one head's reduction.
#include "cpu/attention.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>

#include "cpu/ops.h"
#include "cpu/simd.h"

namespace moe {

namespace {

// The bias tensor of a projection, or -1.
int bias_of(int which) {
  switch (which) {
    case MOE_ATTN_Q: return MOE_ATTN_Q_BIAS;
    case MOE_ATTN_K: return MOE_ATTN_K_BIAS;
    case MOE_ATTN_V: return MOE_ATTN_V_BIAS;
    case MOE_ATTN_O: return MOE_ATTN_O_BIAS;
    case MOE_ATTN_Q_A: return MOE_ATTN_Q_A_BIAS;
    case MOE_ATTN_KV_A: return MOE_ATTN_KV_A_BIAS;
    default: return -1;
  }
}

// Rotates the first 2 * pairs dims of x by the table's cos (table[i]) and sin (table[pairs + i]):
// pair i is (i, i + pairs) (rotate_half), or (2i, 2i + 1) when interleaved. As transformers writes
// it: x * cos + rotate_half(x) * sin.
void apply_rope(float *x, int pairs, bool interleaved, const float *table) {
  const float *cs = table, *sn = table + pairs;
  if (interleaved) {
    for (int i = 0; i < pairs; ++i) {
      const float a = x[2 * i], b = x[2 * i + 1];
      x[2 * i] = a * cs[i] - b * sn[i];
      x[2 * i + 1] = b * cs[i] + a * sn[i];
    }
  } else {
    for (int i = 0; i < pairs; ++i) {
      const float a = x[i], b = x[i + pairs];
      x[i] = a * cs[i] - b * sn[i];
      x[i + pairs] = b * cs[i] + a * sn[i];
    }
  }
}

void clamp(float *x, size_t n, float limit) {
  // std::min/max keep a NaN (they return their first argument when the comparison fails).
  for (size_t i = 0; i < n; ++i) x[i] = std::min(std::max(x[i], -limit), limit);
}

// Heads [h0, h0 + HB) of one row: out_h = (sum_j e[h][j] * v_j) * inv[h], each head and dim summed
// alone over the keys in order (so grouping heads or keys changes nothing): eight dims of every head
// at a time in registers, over blocks of keys whose values stay in L1, the running sums kept in out
// between blocks; the remaining dims one by one.
template <int HB>
void value_sum(const AttendShape &a, const float *const *slots, int n, int vo, const float *e, size_t ld,
               const float *inv, float *out) {
  const int step = std::clamp(16384 / (a.dv * int(sizeof(float))), 8, 64);
  const int dv8 = a.dv & ~7;
  for (int j0 = 0; j0 < n; j0 += step) {
    const int j1 = std::min(n, j0 + step);
    for (int d = 0; d < dv8; d += 8) {
      __m256 acc[HB];
#pragma GCC unroll 8
      for (int t = 0; t < HB; ++t) acc[t] = j0 == 0 ? _mm256_setzero_ps() : _mm256_loadu_ps(out + t * a.out_head + d);
      for (int j = j0; j < j1; ++j) {
        const __m256 v = _mm256_loadu_ps(slots[j] + vo + d);
#pragma GCC unroll 8
        for (int t = 0; t < HB; ++t)
          acc[t] = _mm256_fmadd_ps(_mm256_broadcast_ss(e + size_t(t) * ld + j), v, acc[t]);
      }
#pragma GCC unroll 8
      for (int t = 0; t < HB; ++t) _mm256_storeu_ps(out + t * a.out_head + d, acc[t]);
    }
    for (int d = dv8; d < a.dv; ++d)
      for (int t = 0; t < HB; ++t) {
        float sum = j0 == 0 ? 0.0f : out[t * a.out_head + d];
        for (int j = j0; j < j1; ++j) sum += e[size_t(t) * ld + j] * slots[j][vo + d];
        out[t * a.out_head + d] = sum;
      }
  }
  for (int t = 0; t < HB; ++t)
    for (int d = 0; d < a.dv; ++d) out[t * a.out_head + d] *= inv[t];
}

using ValueSum = void (*)(const AttendShape &, const float *const *, int, int, const float *, size_t, const float *,
                          float *);
constexpr ValueSum kValueSums[8] = {value_sum<1>, value_sum<2>, value_sum<3>, value_sum<4>,
                                    value_sum<5>, value_sum<6>, value_sum<7>, value_sum<8>};

// Heads [h0, h1) of one row (seq, position p): scores over the keys in the window, softmax in
// float32, then the weighted sum of the values.
void attend(const CpuAttention::Batch &b, const AttendShape &a, int row, int seq, int p, int h0, int h1,
            MappedBuffer &scratch) {
  const int lo = a.window > 0 ? std::max(0, p - a.window + 1) : 0;
  const int n = p - lo + 1, nh = h1 - h0;
  const size_t ld = (size_t(n) + 7) & ~size_t(7);
  scratch.reserve(ld * sizeof(const float *) + (size_t(nh) * ld + size_t(nh)) * sizeof(float));
  const float **slots = scratch.as<const float *>();
  float *scores = reinterpret_cast<float *>(slots + ld), *inv = scores + size_t(nh) * ld;
  const int group = (h0 / a.group_heads) * a.group_stride;
  const int ka = a.ka + group, kb = a.kb + group, vo = a.vo + group;

  // The positions' cache slots, in order; the padding repeats the last one.
  const int32_t *table = b.block_table + size_t(seq) * b.max_blocks;
  const int bs = b.cache->block_size();
  const size_t width = size_t(b.cache->width());
  for (int j = lo, i = 0; j <= p;) {
    const int off = j % bs, len = std::min(bs - off, p - j + 1);
    const float *slot = b.cache->slot(b.layer, table[j / bs], off);
    for (int t = 0; t < len; ++t) slots[i++] = slot + size_t(t) * width;
    j += len;
  }
  for (size_t i = size_t(n); i < ld; ++i) slots[i] = slots[n - 1];

  const float *qa = a.qa + row * a.qa_row, *qb = a.qb ? a.qb + row * a.qb_row : nullptr;
  const __m256 scale = _mm256_set1_ps(a.scale);
  for (size_t j = 0; j < ld; j += 8)
    for (int h = h0; h < h1; ++h) {
      __m256 s = dot8(qa + h * a.qa_head, slots + j, ka, a.da);
      if (a.db) s = _mm256_add_ps(s, dot8(qb + h * a.qb_head, slots + j, kb, a.db));
      _mm256_storeu_ps(scores + size_t(h - h0) * ld + j, _mm256_mul_ps(s, scale));
    }
  for (int h = 0; h < nh; ++h) {
    float *s = scores + size_t(h) * ld;
    float m = s[0];
    for (int j = 1; j < n; ++j) m = std::max(m, s[j]);
    const __m256 mv = _mm256_set1_ps(m);
    __m256 acc = _mm256_setzero_ps();
    int j = 0;
    for (; j + 8 <= n; j += 8) {
      const __m256 e = exp256(_mm256_sub_ps(_mm256_loadu_ps(s + j), mv));
      _mm256_storeu_ps(s + j, e);
      acc = _mm256_add_ps(acc, e);
    }
    float sum = hsum(acc);
    for (; j < n; ++j) {
      s[j] = _mm256_cvtss_f32(exp256(_mm256_set1_ps(s[j] - m)));
      sum += s[j];
    }
    inv[h] = 1.0f / sum;
  }
  float *out = a.out + row * a.out_row;
  for (int h = h0; h < h1; h += 8) {
    const int hb = std::min(8, h1 - h);
    kValueSums[hb - 1](a, slots, n, vo, scores + size_t(h - h0) * ld, ld, inv + (h - h0), out + h * a.out_head);
  }
}

}  // namespace

CpuKvCache::CpuKvCache(int layers, int blocks, int block_size, int width)
    : KvCache(layers, blocks, block_size, width),
      data_(size_t(layers) * size_t(blocks) * size_t(block_size) * size_t(width) * sizeof(float)) {}

CpuAttention::CpuAttention(CpuRuntime &rt, const moe_attention_config &config) : Attention(config), rt_(rt) {}

void CpuAttention::set(moe_attention_tensor which, const void *data, moe_dtype src_dtype, moe_dtype dtype) {
  const TensorSpec spec = attention_tensor_spec(config(), which);
  if (!spec.matrix) {
    const float *v = static_cast<const float *>(data);
    vec_[which].assign(v, v + spec.rows);
    return;
  }
  if (which != MOE_ATTN_KV_B) {
    PackedMatrix m(int(spec.rows), int(spec.cols), dtype);
    m.pack(rt_, 0, data, src_dtype, size_t(spec.cols));
    mat_[which] = std::move(m);
    return;
  }
  // kv_b [heads * (nope + v), kv_lora]: per head, nope rows of W_uk then v rows of W_uv.
  const moe_attention_config &c = config();
  const int nope = c.qk_nope_head_dim, vd = c.v_head_dim, lora = c.kv_lora_rank;
  const size_t elem = dtype_size(src_dtype);
  PackedMatrix uk(lora, nope, dtype, c.heads), uv(vd, lora, dtype, c.heads);
  std::vector<char> transposed(size_t(lora) * nope * elem);
  for (int h = 0; h < c.heads; ++h) {
    const char *head = static_cast<const char *>(data) + size_t(h) * (nope + vd) * lora * elem;
    for (int i = 0; i < nope; ++i)
      for (int j = 0; j < lora; ++j)
        std::memcpy(&transposed[(size_t(j) * nope + i) * elem], head + (size_t(i) * lora + j) * elem, elem);
    uk.pack(rt_, h, transposed.data(), src_dtype, size_t(nope));
    uv.pack(rt_, h, head + size_t(nope) * lora * elem, src_dtype, size_t(lora));
  }
  uk_ = std::move(uk);
  uv_ = std::move(uv);
}

void CpuAttention::forward(KvCache &cache, int layer, const float *x, int nseq, const int32_t *seq_rows,
                           const int32_t *seq_start, const int32_t *block_table, int max_blocks, float *y) {
  CpuRuntime::AttentionScratch &s = rt_.attention;
  int rows = 0;
  for (int i = 0; i < nseq; ++i) rows += seq_rows[i];
  s.row_seq.resize(size_t(rows));
  s.row_pos.resize(size_t(rows));
  for (int i = 0, r = 0; i < nseq; ++i)
    for (int j = 0; j < seq_rows[i]; ++j, ++r) {
      s.row_seq[r] = i;
      s.row_pos[r] = seq_start[i] + j;
    }
  const Batch b{static_cast<const CpuKvCache *>(&cache), layer, block_table, max_blocks, rows};
  if (config().kind == MOE_ATTN_GQA)
    forward_gqa(b, x, y);
  else
    forward_mla(b, x, y);
}

void CpuAttention::project(const float *x, size_t ldx, int rows, int n, const int *which, float *const *out,
                           const size_t *ld) {
  std::vector<int64_t> &offsets = rt_.attention.offsets;
  offsets.resize(size_t(n) + 1);
  for (int g = 0; g <= n; ++g) offsets[g] = int64_t(g) * rows;
  parallel_gemm(
      rt_, offsets.data(), n, [&](int g) { return mat_[which[g]].layout.panels; },
      [&](int g, int r0, int m, int p0, int p1) {
        const int bias = bias_of(which[g]);
        return mat_[which[g]].item(0, x + size_t(r0) * ldx, ldx, m, p0, p1, out[g] + size_t(r0) * ld[g], ld[g],
                                   bias < 0 ? nullptr : vector(bias));
      });
}

void CpuAttention::per_head(const PackedMatrix &m, const float *in, size_t ld_in, size_t in_head, int rows,
                            float *out, size_t ld_out) {
  std::vector<int64_t> &offsets = rt_.attention.offsets;
  const int heads = config().heads;
  offsets.resize(size_t(heads) + 1);
  for (int h = 0; h <= heads; ++h) offsets[h] = int64_t(h) * rows;
  parallel_gemm(rt_, offsets.data(), heads, m.layout.panels, [&](int h, int r0, int rows_, int p0, int p1) {
    return m.item(h, in + size_t(r0) * ld_in + size_t(h) * in_head, ld_in, rows_, p0, p1,
                  out + size_t(r0) * ld_out + size_t(h) * m.n, ld_out);
  });
}

template <typename Row>
void CpuAttention::each_row(int rows, Row row) {
  // A row's norms and rotations take microseconds: waking the pool pays off only for many rows.
  const int threads = rt_.pool.size();
  if (threads == 1 || rows < 8 * threads) {
    for (int r = 0; r < rows; ++r) row(r, 0);
    return;
  }
  std::atomic<int> next{0};
  rt_.pool.run([&](int worker) {
    for (int r = next.fetch_add(1); r < rows; r = next.fetch_add(1)) row(r, worker);
  });
}

void CpuAttention::plan_items(int rows, int kv_groups, int group_heads) {
  std::vector<CpuRuntime::AttentionScratch::Item> &items = rt_.attention.items;
  items.clear();
  const int units = rows * kv_groups, wanted = 2 * rt_.pool.size();
  const int chunks = units >= wanted ? 1 : std::min(group_heads, (wanted + units - 1) / units);
  for (int r = 0; r < rows; ++r)
    for (int g = 0; g < kv_groups; ++g)
      for (int k = 0; k < chunks; ++k) {
        const int h0 = g * group_heads + group_heads * k / chunks, h1 = g * group_heads + group_heads * (k + 1) / chunks;
        if (h1 > h0) items.push_back({r, h0, h1});
      }
}

void CpuAttention::attend_all(const Batch &b, const AttendShape &a) {
  const CpuRuntime::AttentionScratch &s = rt_.attention;
  std::atomic<size_t> next{0};
  auto work = [&](int worker) {
    for (size_t i = next.fetch_add(1); i < s.items.size(); i = next.fetch_add(1)) {
      const CpuRuntime::AttentionScratch::Item &it = s.items[i];
      attend(b, a, it.row, s.row_seq[it.row], s.row_pos[it.row], it.head0, it.head1, rt_.worker[worker]);
    }
  };
  if (s.items.size() == 1)
    work(0);
  else
    rt_.pool.run(work);
}

float *CpuAttention::rope_table(int p, int worker) {
  const moe_attention_config &c = config();
  const int pairs = c.rotary_dim / 2;
  MappedBuffer &buffer = rt_.worker[worker];
  buffer.reserve(size_t(2) * pairs * sizeof(float));
  float *table = buffer.as<float>();
  rope_cos_sin(p, vector(MOE_ATTN_INV_FREQ), pairs, c.rope_scale, table);
  return table;
}

float *CpuAttention::cache_slot(const Batch &b, int row) const {
  const CpuRuntime::AttentionScratch &s = rt_.attention;
  const int p = s.row_pos[row], bs = b.cache->block_size();
  return b.cache->slot(b.layer, b.block_table[size_t(s.row_seq[row]) * b.max_blocks + p / bs], p % bs);
}

void CpuAttention::forward_gqa(const Batch &b, const float *x, float *y) {
  const moe_attention_config &c = config();
  CpuRuntime::AttentionScratch &s = rt_.attention;
  const int rows = b.rows, hd = c.head_dim, q_out = c.heads * hd, kv_out = c.kv_heads * hd;
  const size_t ld = size_t(q_out) + 2 * size_t(kv_out);  // a row of proj: q, k, v
  s.proj.reserve(size_t(rows) * ld * sizeof(float));
  s.mixed.reserve(size_t(rows) * q_out * sizeof(float));
  float *proj = s.proj.as<float>(), *mixed = s.mixed.as<float>();
  {
    const int which[3] = {MOE_ATTN_Q, MOE_ATTN_K, MOE_ATTN_V};
    float *const out[3] = {proj, proj + q_out, proj + q_out + kv_out};
    const size_t lds[3] = {ld, ld, ld};
    project(x, size_t(c.hidden), rows, 3, which, out, lds);
  }

  const float *q_norm = vector(MOE_ATTN_Q_NORM), *k_norm = vector(MOE_ATTN_K_NORM);
  each_row(rows, [&](int r, int worker) {
    float *q = proj + size_t(r) * ld, *k = q + q_out;
    // transformers' order: projection (+ bias), q/k norm, clip (OLMoE), RoPE.
    if (c.qk_norm == MOE_QK_NORM_HEAD) {
      for (int h = 0; h < c.heads; ++h) rms_norm_row(q + h * hd, hd, q_norm, c.norm_eps, q + h * hd);
      for (int g = 0; g < c.kv_heads; ++g) rms_norm_row(k + g * hd, hd, k_norm, c.norm_eps, k + g * hd);
    } else if (c.qk_norm == MOE_QK_NORM_ALL) {
      rms_norm_row(q, q_out, q_norm, c.norm_eps, q);
      rms_norm_row(k, kv_out, k_norm, c.norm_eps, k);
    }
    if (c.clip_qkv > 0) clamp(q, ld, c.clip_qkv);
    if (c.rotary_dim > 0) {
      const float *table = rope_table(s.row_pos[r], worker);
      for (int h = 0; h < c.heads; ++h) apply_rope(q + h * hd, c.rotary_dim / 2, c.rope_interleaved, table);
      for (int g = 0; g < c.kv_heads; ++g) apply_rope(k + g * hd, c.rotary_dim / 2, c.rope_interleaved, table);
    }
    std::memcpy(cache_slot(b, r), k, 2 * size_t(kv_out) * sizeof(float));  // keys, then values
  });

  const int group = c.heads / c.kv_heads;
  const AttendShape a{proj, ld, size_t(hd), hd, nullptr, 0, 0, 0, mixed, size_t(q_out), size_t(hd), hd,
                      0, 0, kv_out, group, hd, c.softmax_scale, c.sliding_window};
  plan_items(rows, c.kv_heads, group);
  attend_all(b, a);

  const int which = MOE_ATTN_O;
  float *const out[1] = {y};
  const size_t ldy[1] = {size_t(c.hidden)};
  project(mixed, size_t(q_out), rows, 1, &which, out, ldy);
}

void CpuAttention::forward_mla(const Batch &b, const float *x, float *y) {
  const moe_attention_config &c = config();
  CpuRuntime::AttentionScratch &s = rt_.attention;
  const int rows = b.rows, heads = c.heads, nope = c.qk_nope_head_dim, rope = c.qk_rope_head_dim;
  const int lora = c.kv_lora_rank, vd = c.v_head_dim, q_lora = c.q_lora_rank;
  const int qk = nope + rope, q_out = heads * qk, pairs = rope / 2;
  const size_t ld = size_t(q_lora) + lora + rope;  // a row of proj: [q_a (q_lora_rank > 0)] c_kv k_pe
  const size_t ld_lat = size_t(heads) * lora;
  // proj later holds the heads' outputs [rows, heads * v_head_dim].
  s.proj.reserve(size_t(rows) * std::max(ld, size_t(heads) * vd) * sizeof(float));
  s.query.reserve(size_t(rows) * q_out * sizeof(float));
  s.latent.reserve(size_t(rows) * ld_lat * sizeof(float));
  s.mixed.reserve(size_t(rows) * ld_lat * sizeof(float));
  float *proj = s.proj.as<float>(), *q = s.query.as<float>(), *q_lat = s.latent.as<float>();
  float *o_lat = s.mixed.as<float>();

  if (q_lora == 0) {
    const int which[2] = {MOE_ATTN_Q, MOE_ATTN_KV_A};
    float *const out[2] = {q, proj};
    const size_t lds[2] = {size_t(q_out), ld};
    project(x, size_t(c.hidden), rows, 2, which, out, lds);
  } else {
    const int which[2] = {MOE_ATTN_Q_A, MOE_ATTN_KV_A};
    float *const out[2] = {proj, proj + q_lora};
    const size_t lds[2] = {ld, ld};
    project(x, size_t(c.hidden), rows, 2, which, out, lds);
    const float *norm = vector(MOE_ATTN_Q_A_NORM);
    each_row(rows, [&](int r, int) { rms_norm_row(proj + r * ld, q_lora, norm, c.norm_eps, proj + r * ld); });
    const int q_b = MOE_ATTN_Q_B;
    float *const q_out_rows[1] = {q};
    const size_t ldq[1] = {size_t(q_out)};
    project(proj, ld, rows, 1, &q_b, q_out_rows, ldq);
  }

  const float *kv_norm = vector(MOE_ATTN_KV_A_NORM);
  each_row(rows, [&](int r, int worker) {
    float *kv = proj + r * ld + q_lora, *qr = q + size_t(r) * q_out;
    rms_norm_row(kv, lora, kv_norm, c.norm_eps, kv);
    const float *table = rope_table(s.row_pos[r], worker);
    apply_rope(kv + lora, pairs, c.rope_interleaved, table);
    for (int h = 0; h < heads; ++h) apply_rope(qr + h * qk + nope, pairs, c.rope_interleaved, table);
    std::memcpy(cache_slot(b, r), kv, size_t(lora + rope) * sizeof(float));  // c_kv, then k_pe
  });

  // Absorbed attention: q_nope . (W_uk c) = (W_uk^T q_nope) . c per head, and the heads' values
  // W_uv (sum_j w_j c_j), so the latent cache is never expanded.
  per_head(uk_, q, size_t(q_out), size_t(qk), rows, q_lat, ld_lat);
  const AttendShape a{q_lat, ld_lat, size_t(lora), lora, q + nope, size_t(q_out), size_t(qk), rope,
                      o_lat, ld_lat, size_t(lora), lora, 0, lora, 0, heads, 0, c.softmax_scale, c.sliding_window};
  plan_items(rows, 1, heads);
  attend_all(b, a);
  const size_t ld_v = size_t(heads) * vd;
  per_head(uv_, o_lat, ld_lat, size_t(lora), rows, proj, ld_v);

  const int which = MOE_ATTN_O;
  float *const out[1] = {y};
  const size_t ldy[1] = {size_t(c.hidden)};
  project(proj, ld_v, rows, 1, &which, out, ldy);
}

}  // namespace moe

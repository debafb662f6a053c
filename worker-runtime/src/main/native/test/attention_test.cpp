// Attention against a double-precision reference written the way transformers computes it (MLA
// without the absorption), and its batch invariance: every row's bits are the same whether its
// sequence ran alone in one call or chunked, beside other sequences, decoding from the cache.
#include <algorithm>
#include <map>

#include "check.h"

namespace selftest {
namespace {

struct Layer {
  std::string name;
  moe_attention_config c{};
  moe_dtype dtype = MOE_F32;  // storage of the matrices
  std::map<int, std::vector<float>> t;  // by moe_attention_tensor; matrices representable in dtype
  const std::vector<float> &operator[](int which) const { return t.at(which); }
  bool has(int which) const { return t.count(which) != 0; }
};

moe_attention_config gqa(int hidden, int heads, int kv_heads, int head_dim, int rotary, int interleaved, int qk_norm,
                         int window, float clip, float rope_scale) {
  moe_attention_config c{};
  c.kind = MOE_ATTN_GQA;
  c.hidden = hidden;
  c.heads = heads;
  c.kv_heads = kv_heads;
  c.head_dim = head_dim;
  c.rotary_dim = rotary;
  c.rope_interleaved = interleaved;
  c.qk_norm = qk_norm;
  c.sliding_window = window;
  c.softmax_scale = 1.0f / std::sqrt(float(head_dim));
  c.rope_scale = rope_scale;
  c.clip_qkv = clip;
  c.norm_eps = 1e-6f;
  return c;
}

moe_attention_config mla(int hidden, int heads, int q_lora, int kv_lora, int nope, int rope, int v, int interleaved,
                         int window, float rope_scale) {
  moe_attention_config c{};
  c.kind = MOE_ATTN_MLA;
  c.hidden = hidden;
  c.heads = heads;
  c.rotary_dim = rope;
  c.rope_interleaved = interleaved;
  c.sliding_window = window;
  c.q_lora_rank = q_lora;
  c.kv_lora_rank = kv_lora;
  c.qk_nope_head_dim = nope;
  c.qk_rope_head_dim = rope;
  c.v_head_dim = v;
  c.softmax_scale = 1.0f / std::sqrt(float(nope + rope)) * 1.1f;
  c.rope_scale = rope_scale;
  c.norm_eps = 1e-6f;
  return c;
}

// Random weights for every tensor the configuration has; `biases` lists the optional ones to set.
Layer make_layer(const std::string &name, const moe_attention_config &c, moe_dtype dtype,
                 const std::vector<int> &biases) {
  Layer l{name, c, dtype, {}};
  std::mt19937 rng(uint32_t(name.size() * 131 + c.hidden));
  auto matrix = [&](int which, int rows, int cols) {
    auto w = random_vector(size_t(rows) * cols, rng, 1.7f / std::sqrt(float(cols)));
    if (dtype == MOE_BF16) round_to_bf16(w);
    l.t[which] = w;
  };
  auto norm = [&](int which, int n) {
    auto w = random_vector(size_t(n), rng, 0.3f);
    for (auto &v : w) v += 1.0f;
    l.t[which] = w;
  };
  const int h = c.heads;
  int rotary = c.rotary_dim;
  if (c.kind == MOE_ATTN_GQA) {
    const int q_out = h * c.head_dim, kv_out = c.kv_heads * c.head_dim;
    matrix(MOE_ATTN_Q, q_out, c.hidden);
    matrix(MOE_ATTN_K, kv_out, c.hidden);
    matrix(MOE_ATTN_V, kv_out, c.hidden);
    matrix(MOE_ATTN_O, c.hidden, q_out);
    if (c.qk_norm == MOE_QK_NORM_HEAD) {
      norm(MOE_ATTN_Q_NORM, c.head_dim);
      norm(MOE_ATTN_K_NORM, c.head_dim);
    } else if (c.qk_norm == MOE_QK_NORM_ALL) {
      norm(MOE_ATTN_Q_NORM, q_out);
      norm(MOE_ATTN_K_NORM, kv_out);
    }
  } else {
    const int q_out = h * (c.qk_nope_head_dim + c.qk_rope_head_dim);
    if (c.q_lora_rank == 0) {
      matrix(MOE_ATTN_Q, q_out, c.hidden);
    } else {
      matrix(MOE_ATTN_Q_A, c.q_lora_rank, c.hidden);
      norm(MOE_ATTN_Q_A_NORM, c.q_lora_rank);
      matrix(MOE_ATTN_Q_B, q_out, c.q_lora_rank);
    }
    matrix(MOE_ATTN_KV_A, c.kv_lora_rank + c.qk_rope_head_dim, c.hidden);
    norm(MOE_ATTN_KV_A_NORM, c.kv_lora_rank);
    matrix(MOE_ATTN_KV_B, h * (c.qk_nope_head_dim + c.v_head_dim), c.kv_lora_rank);
    matrix(MOE_ATTN_O, c.hidden, h * c.v_head_dim);
    rotary = c.qk_rope_head_dim;
  }
  for (int which : biases) {
    const int n = which == MOE_ATTN_O_BIAS ? c.hidden
                  : which == MOE_ATTN_Q_BIAS ? int(l[MOE_ATTN_Q].size() / c.hidden)
                  : which == MOE_ATTN_K_BIAS || which == MOE_ATTN_V_BIAS ? c.kv_heads * c.head_dim
                  : which == MOE_ATTN_Q_A_BIAS ? c.q_lora_rank
                                               : c.kv_lora_rank + c.qk_rope_head_dim;
    l.t[which] = random_vector(size_t(n), rng, 0.5f);
  }
  if (rotary > 0) {
    // transformers' default RoPE: inv_freq[i] = 1 / base^(2i / dim), in float32.
    std::vector<float> inv(size_t(rotary / 2));
    for (int i = 0; i < rotary / 2; ++i) inv[i] = 1.0f / std::pow(10000.0f, float(2 * i) / float(rotary));
    l.t[MOE_ATTN_INV_FREQ] = inv;
  }
  return l;
}

bool is_matrix(int which) {
  return which == MOE_ATTN_Q || which == MOE_ATTN_K || which == MOE_ATTN_V || which == MOE_ATTN_O ||
         which == MOE_ATTN_Q_A || which == MOE_ATTN_Q_B || which == MOE_ATTN_KV_A || which == MOE_ATTN_KV_B;
}

moe_attention *upload(const Target &t, const Layer &l) {
  moe_attention *a = nullptr;
  check_ok(moe_attention_create(t.ctx, &l.c, &a), t.name + " " + l.name + " create");
  if (!a) return nullptr;
  for (const auto &[which, v] : l.t) {
    // bf16 matrices come as bf16 bits or as f32 alternately, so both conversions into the storage run.
    const bool bits = is_matrix(which) && l.dtype == MOE_BF16 && which % 2 == 1;
    const std::vector<uint16_t> b = bf16_bits(v);
    check_ok(moe_attention_set(a, moe_attention_tensor(which), bits ? static_cast<const void *>(b.data()) : v.data(),
                               bits ? MOE_BF16 : MOE_F32, is_matrix(which) ? l.dtype : MOE_F32, int64_t(v.size())),
             t.name + " " + l.name + " set tensor " + std::to_string(which));
  }
  return a;
}

// ---- The reference, in double -------------------------------------------------------------------

using Vec = std::vector<double>;

Vec matvec(const std::vector<float> &w, int rows, int cols, const double *x, const Layer &l, int bias) {
  Vec y(static_cast<size_t>(rows));
  for (int r = 0; r < rows; ++r) {
    double s = l.has(bias) ? l[bias][r] : 0;
    for (int i = 0; i < cols; ++i) s += double(w[size_t(r) * cols + i]) * x[i];
    y[r] = s;
  }
  return y;
}

void rms(double *x, int n, const std::vector<float> &w, size_t w0, double eps) {
  double ss = 0;
  for (int i = 0; i < n; ++i) ss += x[i] * x[i];
  const double r = 1 / std::sqrt(ss / n + eps);
  for (int i = 0; i < n; ++i) x[i] = x[i] * r * w[w0 + i];
}

void rope(double *x, int pairs, bool interleaved, int p, const Layer &l) {
  for (int i = 0; i < pairs; ++i) {
    // The angle in float32, as transformers computes it.
    const float angle = float(p) * l[MOE_ATTN_INV_FREQ][i];
    const double cs = std::cos(double(angle)) * l.c.rope_scale, sn = std::sin(double(angle)) * l.c.rope_scale;
    double &a = interleaved ? x[2 * i] : x[i];
    double &b = interleaved ? x[2 * i + 1] : x[i + pairs];
    const double a0 = a, b0 = b;
    a = a0 * cs - b0 * sn;
    b = b0 * cs + a0 * sn;
  }
}

// softmax(scale * q.k_j) over the window, applied to values; keys(j) and values(j) give vectors.
template <typename Score, typename Value>
Vec attend_ref(int p, int window, int dv, Score score, Value value) {
  const int lo = window > 0 ? std::max(0, p - window + 1) : 0;
  Vec s;
  double m = -1e300;
  for (int j = lo; j <= p; ++j) {
    s.push_back(score(j));
    m = std::max(m, s.back());
  }
  double sum = 0;
  for (auto &v : s) sum += v = std::exp(v - m);
  Vec out(static_cast<size_t>(dv), 0.0);
  for (int j = lo; j <= p; ++j) {
    const Vec v = value(j);
    for (int d = 0; d < dv; ++d) out[d] += s[j - lo] / sum * v[d];
  }
  return out;
}

// y [P, hidden] for one whole sequence x [P, hidden].
Vec reference(const Layer &l, const std::vector<float> &x, int P) {
  const moe_attention_config &c = l.c;
  const int H = c.hidden;
  std::vector<Vec> q(P), k(P), v(P), kpe(P);
  std::vector<double> xd(x.begin(), x.end());
  Vec y(size_t(P) * H);
  if (c.kind == MOE_ATTN_GQA) {
    const int hd = c.head_dim, q_out = c.heads * hd, kv_out = c.kv_heads * hd, group = c.heads / c.kv_heads;
    for (int p = 0; p < P; ++p) {
      const double *xp = xd.data() + size_t(p) * H;
      q[p] = matvec(l[MOE_ATTN_Q], q_out, H, xp, l, MOE_ATTN_Q_BIAS);
      k[p] = matvec(l[MOE_ATTN_K], kv_out, H, xp, l, MOE_ATTN_K_BIAS);
      v[p] = matvec(l[MOE_ATTN_V], kv_out, H, xp, l, MOE_ATTN_V_BIAS);
      if (c.qk_norm == MOE_QK_NORM_HEAD) {
        for (int h = 0; h < c.heads; ++h) rms(&q[p][size_t(h) * hd], hd, l[MOE_ATTN_Q_NORM], 0, c.norm_eps);
        for (int g = 0; g < c.kv_heads; ++g) rms(&k[p][size_t(g) * hd], hd, l[MOE_ATTN_K_NORM], 0, c.norm_eps);
      } else if (c.qk_norm == MOE_QK_NORM_ALL) {
        rms(q[p].data(), q_out, l[MOE_ATTN_Q_NORM], 0, c.norm_eps);
        rms(k[p].data(), kv_out, l[MOE_ATTN_K_NORM], 0, c.norm_eps);
      }
      if (c.clip_qkv > 0)
        for (Vec *t : {&q[p], &k[p], &v[p]})
          for (auto &e : *t) e = std::min(std::max(e, -double(c.clip_qkv)), double(c.clip_qkv));
      for (int h = 0; h < c.heads; ++h) rope(&q[p][size_t(h) * hd], c.rotary_dim / 2, c.rope_interleaved, p, l);
      for (int g = 0; g < c.kv_heads; ++g) rope(&k[p][size_t(g) * hd], c.rotary_dim / 2, c.rope_interleaved, p, l);
    }
    for (int p = 0; p < P; ++p) {
      Vec mixed;
      for (int h = 0; h < c.heads; ++h) {
        const int g = h / group;
        const Vec o = attend_ref(
            p, c.sliding_window, hd,
            [&](int j) {
              double s = 0;
              for (int d = 0; d < hd; ++d) s += q[p][size_t(h) * hd + d] * k[j][size_t(g) * hd + d];
              return c.softmax_scale * s;
            },
            [&](int j) { return Vec(v[j].begin() + size_t(g) * hd, v[j].begin() + size_t(g + 1) * hd); });
        mixed.insert(mixed.end(), o.begin(), o.end());
      }
      const Vec yp = matvec(l[MOE_ATTN_O], H, q_out, mixed.data(), l, MOE_ATTN_O_BIAS);
      std::copy(yp.begin(), yp.end(), y.begin() + size_t(p) * H);
    }
    return y;
  }
  const int nope = c.qk_nope_head_dim, rp = c.qk_rope_head_dim, lora = c.kv_lora_rank, vd = c.v_head_dim;
  const int qk = nope + rp, q_out = c.heads * qk;
  for (int p = 0; p < P; ++p) {
    const double *xp = xd.data() + size_t(p) * H;
    if (c.q_lora_rank == 0) {
      q[p] = matvec(l[MOE_ATTN_Q], q_out, H, xp, l, MOE_ATTN_Q_BIAS);
    } else {
      Vec qa = matvec(l[MOE_ATTN_Q_A], c.q_lora_rank, H, xp, l, MOE_ATTN_Q_A_BIAS);
      rms(qa.data(), c.q_lora_rank, l[MOE_ATTN_Q_A_NORM], 0, c.norm_eps);
      q[p] = matvec(l[MOE_ATTN_Q_B], q_out, c.q_lora_rank, qa.data(), l, -1);
    }
    for (int h = 0; h < c.heads; ++h) rope(&q[p][size_t(h) * qk + nope], rp / 2, c.rope_interleaved, p, l);
    Vec kv = matvec(l[MOE_ATTN_KV_A], lora + rp, H, xp, l, MOE_ATTN_KV_A_BIAS);
    rms(kv.data(), lora, l[MOE_ATTN_KV_A_NORM], 0, c.norm_eps);
    kpe[p] = Vec(kv.begin() + lora, kv.end());
    rope(kpe[p].data(), rp / 2, c.rope_interleaved, p, l);
    // Expanded keys and values per head, as transformers' kv_b_proj gives them.
    const Vec kvb = matvec(l[MOE_ATTN_KV_B], c.heads * (nope + vd), lora, kv.data(), l, -1);
    k[p] = kvb;
  }
  for (int p = 0; p < P; ++p) {
    Vec mixed;
    for (int h = 0; h < c.heads; ++h) {
      const size_t base = size_t(h) * (nope + vd);
      const Vec o = attend_ref(
          p, c.sliding_window, vd,
          [&](int j) {
            double s = 0;
            for (int d = 0; d < nope; ++d) s += q[p][size_t(h) * qk + d] * k[j][base + d];
            for (int d = 0; d < rp; ++d) s += q[p][size_t(h) * qk + nope + d] * kpe[j][d];
            return c.softmax_scale * s;
          },
          [&](int j) { return Vec(k[j].begin() + base + nope, k[j].begin() + base + nope + vd); });
      mixed.insert(mixed.end(), o.begin(), o.end());
    }
    const Vec yp = matvec(l[MOE_ATTN_O], H, c.heads * vd, mixed.data(), l, MOE_ATTN_O_BIAS);
    std::copy(yp.begin(), yp.end(), y.begin() + size_t(p) * H);
  }
  return y;
}

// ---- Running sequences through the library ------------------------------------------------------

struct Chunk {
  int seq, start, rows;
};

constexpr int kBlockSize = 4, kMaxBlocks = 8, kLayer = 1;

// A cache of 2 layers whose blocks are handed to the sequences in a scrambled order.
struct Paged {
  moe_kv_cache *kv = nullptr;
  std::vector<int32_t> table;  // [sequence][kMaxBlocks]
  Paged(const Target &t, int width, int sequences, uint32_t seed) {
    const int blocks = sequences * kMaxBlocks + 5;
    check_ok(moe_kv_cache_create(t.ctx, 2, blocks, kBlockSize, width, &kv), t.name + " kv cache create");
    std::vector<int32_t> ids(static_cast<size_t>(blocks));
    for (int i = 0; i < blocks; ++i) ids[i] = i;
    std::mt19937 rng(seed);
    std::shuffle(ids.begin(), ids.end(), rng);
    table.assign(ids.begin(), ids.begin() + size_t(sequences) * kMaxBlocks);
  }
  ~Paged() { moe_kv_cache_free(kv); }
};

// One forward call over `chunks` (sequence after sequence); outputs land in ys[seq] at their positions.
void run_call(const Target &t, moe_attention *a, Paged &cache, const std::vector<Chunk> &chunks,
             const std::vector<std::vector<float>> &xs, std::vector<std::vector<float>> &ys, int hidden,
             const std::string &name) {
  std::vector<float> x, y;
  std::vector<int32_t> rows, start, table;
  for (const Chunk &ch : chunks) {
    x.insert(x.end(), xs[ch.seq].begin() + size_t(ch.start) * hidden,
             xs[ch.seq].begin() + size_t(ch.start + ch.rows) * hidden);
    rows.push_back(ch.rows);
    start.push_back(ch.start);
    table.insert(table.end(), cache.table.begin() + size_t(ch.seq) * kMaxBlocks,
                 cache.table.begin() + size_t(ch.seq + 1) * kMaxBlocks);
  }
  y.assign(x.size(), NAN);
  check_ok(moe_attention_forward(t.ctx, a, cache.kv, kLayer, x.data(), int(chunks.size()), rows.data(), start.data(),
                                 table.data(), kMaxBlocks, y.data()),
           name + " forward");
  size_t at = 0;
  for (const Chunk &ch : chunks) {
    std::copy(y.begin() + at, y.begin() + at + size_t(ch.rows) * hidden, ys[ch.seq].begin() + size_t(ch.start) * hidden);
    at += size_t(ch.rows) * hidden;
  }
}

void test_layer(const Target &t, const Layer &l) {
  const std::string name = t.name + " " + l.name;
  const int H = l.c.hidden;
  // 27 rows in one call: enough for the per-row passes to run on every thread.
  const std::vector<int> lengths = {27, 6, 9};
  const int nseq = int(lengths.size());
  std::vector<std::vector<float>> xs;
  std::mt19937 rng(77);
  for (int len : lengths) xs.push_back(random_vector(size_t(len) * H, rng, 1.0f));
  moe_attention *a = upload(t, l);
  if (!a) return;
  const int width = moe_attention_cache_width(a);
  check(width == (l.c.kind == MOE_ATTN_GQA ? 2 * l.c.kv_heads * l.c.head_dim : l.c.kv_lora_rank + l.c.qk_rope_head_dim),
        name + " cache width");

  // Each sequence alone, its whole prompt in one call, against the reference.
  std::vector<std::vector<float>> alone(static_cast<size_t>(nseq)), mixed(static_cast<size_t>(nseq));
  for (int s = 0; s < nseq; ++s) {
    alone[s].assign(xs[s].size(), NAN);
    mixed[s].assign(xs[s].size(), NAN);
  }
  {
    Paged cache(t, width, nseq, 1);
    for (int s = 0; s < nseq; ++s) run_call(t, a, cache, {{s, 0, lengths[s]}}, xs, alone, H, name + " alone");
  }
  // bf16-stored matrices are widened exactly and multiplied in float32 on every backend.
  const double tolerance = 2e-5;
  for (int s = 0; s < nseq; ++s) {
    const Vec ref = reference(l, xs[s], lengths[s]);
    double worst = 0, scale = 1e-3;
    for (double v : ref) scale = std::max(scale, std::fabs(v));
    for (size_t i = 0; i < ref.size(); ++i) worst = worse(worst, std::fabs(alone[s][i] - ref[i]) / scale);
    check(worst < tolerance, name + " sequence " + std::to_string(s) + ": error " + fmt(worst) +
                                 " relative to max |y| " + fmt(scale));
  }

  // The same sequences chunked, several in a call, then single-token decodes from the cache (a
  // sequence with 0 rows in a call is skipped): every row equals its whole-prompt bits.
  {
    Paged cache(t, width, nseq, 2);
    const std::vector<std::vector<Chunk>> calls = {
        {{0, 0, 4}, {1, 0, 6}},
        {{2, 0, 3}, {1, 6, 0}, {0, 4, 1}},
        {{0, 5, 4}, {2, 3, 5}},
        {{2, 8, 1}, {0, 9, 1}},
        {{0, 10, 1}},
        {{0, 11, 15}},
        {{0, 26, 1}},
    };
    for (const auto &call : calls) run_call(t, a, cache, call, xs, mixed, H, name + " chunked");
  }
  bool same = true;
  for (int s = 0; s < nseq; ++s) same &= same_bits(alone[s].data(), mixed[s].data(), alone[s].size());
  check(same, name + ": chunked prefill, batching with other sequences and decoding from the cache give the"
                     " bits of each sequence's whole prompt alone");
  for (int s = 0; s < nseq; ++s) against_cpu(t, l.name + " sequence " + std::to_string(s), alone[s].data(),
                                             alone[s].size(), kSameArithmetic);
  moe_attention_free(a);
}

}  // namespace

void test_attention(const Target &t) {
  using V = std::vector<int>;
  // Mixtral/Qwen-like: RoPE halves, GQA, biases on every projection. (Widths of 200 and 264 give the
  // projections several K sub-chunks and blocks, so their reduction order is exercised too; head_dim 44
  // and kv_lora_rank 76 have whole blocks of 32 and 8 and a tail in the attention's dot products.)
  test_layer(t, make_layer("gqa halves +bias", gqa(200, 4, 2, 44, 44, 0, MOE_QK_NORM_NONE, 0, 0, 1), MOE_F32,
                           V{MOE_ATTN_Q_BIAS, MOE_ATTN_K_BIAS, MOE_ATTN_V_BIAS, MOE_ATTN_O_BIAS}));
  // Qwen3-MoE-like head norms; interleaved, partial rotary, a head_dim that is no multiple of 8, bf16.
  test_layer(t, make_layer("gqa interleaved partial head-norm bf16", gqa(48, 6, 3, 12, 8, 1, MOE_QK_NORM_HEAD, 0, 0, 1),
                           MOE_BF16, V{}));
  // OLMoE-like whole-projection norms and clip (active at 0.7), one kv head, a sliding window, YaRN's
  // scaled cos/sin.
  test_layer(t, make_layer("gqa all-norm clip window", gqa(40, 4, 1, 10, 10, 0, MOE_QK_NORM_ALL, 5, 0.7f, 1.2f),
                           MOE_F32, V{MOE_ATTN_Q_BIAS, MOE_ATTN_K_BIAS, MOE_ATTN_V_BIAS}));
  // DeepSeek-V3-like MLA: q_proj (q_lora_rank 0) with interleaved RoPE, 10 heads and a 300-wide
  // latent (the value pass takes eight heads at a time, over blocks of a few keys); q_a/q_b with
  // biases, bf16.
  test_layer(t, make_layer("mla q_proj interleaved", mla(264, 10, 0, 300, 8, 6, 10, 1, 0, 1), MOE_F32,
                           V{MOE_ATTN_Q_BIAS, MOE_ATTN_KV_A_BIAS, MOE_ATTN_O_BIAS}));
  test_layer(t, make_layer("mla q_lora window bf16", mla(40, 4, 16, 24, 12, 8, 12, 0, 6, 1.1f), MOE_BF16,
                           V{MOE_ATTN_Q_A_BIAS, MOE_ATTN_KV_A_BIAS}));
}

void test_api_errors(const Target &t) {
  const std::string n = t.name + " errors: ";
  moe_ctx *other = nullptr;
  check_ok(moe_ctx_create(MOE_BACKEND_CPU, 1, &other), "second context");
  const float w[4] = {1, 2, 3, 4};
  moe_matrix *m = nullptr;
  check_fails(moe_matrix_create(t.ctx, 0, 2, w, MOE_F32, MOE_F32, nullptr, &m), MOE_ERR_INVALID, "out must be > 0",
              n + "matrix out 0");
  check_fails(moe_matrix_create(t.ctx, 2, 2, nullptr, MOE_F32, MOE_F32, nullptr, &m), MOE_ERR_INVALID, "w is null",
              n + "matrix without weights");
  check_fails(moe_matrix_create(t.ctx, 2, 2, w, moe_dtype(7), MOE_F32, nullptr, &m), MOE_ERR_INVALID,
              "src_dtype is not a known moe_dtype", n + "matrix src dtype");
  check_ok(moe_matrix_create(t.ctx, 2, 2, w, MOE_F32, MOE_F32, nullptr, &m), n + "matrix create");
  float y[4];
  check_fails(moe_matrix_mul(other, m, w, 2, y), MOE_ERR_INVALID, "the matrix was created with another context",
              n + "matrix of another context");
  check_fails(moe_matrix_mul(t.ctx, m, w, -1, y), MOE_ERR_INVALID, "rows must be >= 0", n + "matrix rows");
  check_fails(moe_matrix_mul(t.ctx, m, nullptr, 1, y), MOE_ERR_INVALID, "x is null", n + "matrix null x");
  moe_matrix_free(m);

  moe_attention *a = nullptr;
  moe_attention_config bad = gqa(16, 4, 3, 4, 4, 0, 0, 0, 0, 1);
  check_fails(moe_attention_create(t.ctx, &bad, &a), MOE_ERR_INVALID, "kv_heads = 3 does not divide heads = 4",
              n + "kv heads");
  bad = gqa(16, 4, 2, 4, 3, 0, 0, 0, 0, 1);
  check_fails(moe_attention_create(t.ctx, &bad, &a), MOE_ERR_INVALID, "rotary_dim = 3 must be even", n + "odd rotary");
  bad = mla(16, 2, 0, 8, 4, 4, 4, 0, 0, 1);
  bad.rotary_dim = 2;
  check_fails(moe_attention_create(t.ctx, &bad, &a), MOE_ERR_INVALID, "must equal qk_rope_head_dim", n + "mla rotary");
  bad.kind = 7;
  check_fails(moe_attention_create(t.ctx, &bad, &a), MOE_ERR_INVALID, "kind 7", n + "kind");
  check_fails(moe_attention_create(t.ctx, nullptr, &a), MOE_ERR_INVALID, "config is null", n + "null config");

  const moe_attention_config c = gqa(8, 2, 1, 4, 4, 0, MOE_QK_NORM_NONE, 0, 0, 1);
  check_ok(moe_attention_create(t.ctx, &c, &a), n + "attention create");
  if (!a) return;
  const std::vector<float> q(8 * 8, 0.1f), kv(4 * 8, 0.1f), freq(2, 0.5f);
  check_fails(moe_attention_set(a, MOE_ATTN_Q, q.data(), MOE_F32, MOE_F32, 5), MOE_ERR_INVALID,
              "MOE_ATTN_Q has [8, 8] = 64 elements, got elems = 5", n + "tensor size");
  check_fails(moe_attention_set(a, MOE_ATTN_Q_A, q.data(), MOE_F32, MOE_F32, 64), MOE_ERR_INVALID,
              "MOE_ATTN_Q_A does not apply to this attention (GQA", n + "MLA tensor on GQA");
  check_fails(moe_attention_set(a, MOE_ATTN_Q_NORM, q.data(), MOE_F32, MOE_F32, 4), MOE_ERR_INVALID,
              "MOE_ATTN_Q_NORM does not apply", n + "norm without qk_norm");
  check_fails(moe_attention_set(a, MOE_ATTN_Q_BIAS, q.data(), MOE_BF16, MOE_F32, 8), MOE_ERR_INVALID,
              "is a float32 vector", n + "bf16 bias");
  check_fails(moe_attention_set(a, moe_attention_tensor(99), q.data(), MOE_F32, MOE_F32, 8), MOE_ERR_INVALID,
              "not a moe_attention_tensor", n + "tensor 99");
  check_fails(moe_attention_set(a, MOE_ATTN_Q, nullptr, MOE_F32, MOE_F32, 64), MOE_ERR_INVALID, "data is null",
              n + "null data");
  check_ok(moe_attention_set(a, MOE_ATTN_Q, q.data(), MOE_F32, MOE_F32, 64), n + "set q");
  check_ok(moe_attention_set(a, MOE_ATTN_K, kv.data(), MOE_F32, MOE_BF16, 32), n + "set k");
  check_ok(moe_attention_set(a, MOE_ATTN_V, kv.data(), MOE_F32, MOE_F32, 32), n + "set v");

  moe_kv_cache *kvc = nullptr, *wide = nullptr, *foreign = nullptr;
  check_fails(moe_kv_cache_create(t.ctx, 1, 0, 4, 8, &kvc), MOE_ERR_INVALID, "blocks must be > 0", n + "cache blocks");
  check_ok(moe_kv_cache_create(t.ctx, 2, 4, 2, moe_attention_cache_width(a), &kvc), n + "cache create");
  check_ok(moe_kv_cache_create(t.ctx, 2, 4, 2, 10, &wide), n + "wide cache create");
  check_ok(moe_kv_cache_create(other, 2, 4, 2, 8, &foreign), n + "foreign cache create");
  std::vector<float> x(4 * 8, 0.5f), out(4 * 8);
  int32_t rows[2] = {2, 1}, start[2] = {0, 0}, table[4] = {0, 1, 2, 3};
  check_fails(moe_attention_forward(t.ctx, a, kvc, 0, x.data(), 2, rows, start, table, 2, out.data()), MOE_ERR_INVALID,
              "required tensors are not set: MOE_ATTN_O, MOE_ATTN_INV_FREQ", n + "missing tensors");
  check_ok(moe_attention_set(a, MOE_ATTN_O, q.data(), MOE_F32, MOE_F32, 64), n + "set o");
  check_ok(moe_attention_set(a, MOE_ATTN_INV_FREQ, freq.data(), MOE_F32, MOE_F32, 2), n + "set inv_freq");
  check_ok(moe_attention_forward(t.ctx, a, kvc, 1, x.data(), 2, rows, start, table, 2, out.data()), n + "forward");
  check_fails(moe_attention_forward(t.ctx, a, kvc, 2, x.data(), 2, rows, start, table, 2, out.data()), MOE_ERR_INVALID,
              "layer 2 is outside the cache's layers [0, 2)", n + "layer");
  check_fails(moe_attention_forward(t.ctx, a, wide, 0, x.data(), 2, rows, start, table, 2, out.data()),
              MOE_ERR_INVALID, "the cache holds 10 floats a position, this attention needs 8", n + "cache width");
  check_fails(moe_attention_forward(t.ctx, a, foreign, 0, x.data(), 2, rows, start, table, 2, out.data()),
              MOE_ERR_INVALID, "the cache was created with another context", n + "foreign cache");
  int32_t bad_table[4] = {0, 1, 9, 3};
  check_fails(moe_attention_forward(t.ctx, a, kvc, 0, x.data(), 2, rows, start, bad_table, 2, out.data()),
              MOE_ERR_INVALID, "sequence 1: block_table[2] = 9 is outside the cache's blocks [0, 4)", n + "block id");
  int32_t late[2] = {3, 0};
  check_fails(moe_attention_forward(t.ctx, a, kvc, 0, x.data(), 2, rows, late, table, 2, out.data()), MOE_ERR_INVALID,
              "sequence 0: position 4 is past its max_blocks * block_size = 4 positions", n + "position past blocks");
  int32_t shared[4] = {0, 1, 0, 3};
  check_fails(moe_attention_forward(t.ctx, a, kvc, 0, x.data(), 2, rows, start, shared, 2, out.data()),
              MOE_ERR_INVALID, "block 0 is written by sequence 0 and written by sequence 1", n + "shared written block");
  int32_t reads[4] = {0, 1, 0, 3}, read_start[2] = {0, 2}, read_rows[2] = {1, 1};
  check_fails(moe_attention_forward(t.ctx, a, kvc, 0, x.data(), 2, read_rows, read_start, reads, 2, out.data()),
              MOE_ERR_INVALID, "block 0 is written by sequence 0 and read by sequence 1", n + "read of a written block");
  int32_t negative[2] = {2, -1};
  check_fails(moe_attention_forward(t.ctx, a, kvc, 0, x.data(), 2, negative, start, table, 2, out.data()),
              MOE_ERR_INVALID, "seq_rows[1] = -1 is negative", n + "negative rows");
  check_fails(moe_attention_forward(t.ctx, a, kvc, 0, x.data(), 2, rows, start, table, 0, out.data()), MOE_ERR_INVALID,
              "max_blocks must be > 0", n + "max_blocks");
  check_fails(moe_attention_forward(t.ctx, a, kvc, 0, nullptr, 2, rows, start, table, 2, out.data()), MOE_ERR_INVALID,
              "x is null", n + "null x");
  int32_t none[2] = {0, 0};
  check_ok(moe_attention_forward(t.ctx, a, kvc, 0, nullptr, 2, none, start, nullptr, 0, nullptr), n + "no rows");
  moe_kv_cache_free(foreign);
  moe_kv_cache_free(wide);
  moe_kv_cache_free(kvc);
  moe_attention_free(a);
  moe_ctx_free(other);
}

}  // namespace selftest

// Attention on the device (GQA and DeepSeek's MLA) over a paged KV cache in device memory: the
// CPU backend's algorithm (src/cpu/attention.cpp) step for step, each step's float arithmetic in the
// CPU's order (device_math.cuh), so a row's result equals the CPU backend's bit for bit.
//
// A forward pass is one upload (x and the rows' metadata), a chain of kernels on the context's stream,
// and one download: projections (GEMMs in the CPU's order), a per-row kernel for norms, clip, RoPE and
// the cache write, the attention kernel, more GEMMs. Nothing synchronises with the host before the
// final copy back, except growing the RoPE table before anything is launched.
//
// Batch invariance: every output is computed from its own row's data in an order fixed by the row's
// position (keys lo..p in order, reductions over fixed lanes), by code that does not depend on which
// block or thread runs it, how many rows share the call, or what they hold.
#include <algorithm>
#include <array>
#include <cmath>

#include "attention_spec.h"
#include "cuda/device_math.cuh"
#include "cuda/gemm.h"
#include "cuda/runtime.h"

namespace moe {
namespace {

constexpr int kRowThreads = 128;     // the per-row kernels
constexpr int kAttendThreads = 128;  // the attention kernel: 4 warps
constexpr int kAttendWarps = kAttendThreads / 32;
constexpr int kBlocksPerSm = 8;      // attention blocks resident per multiprocessor, each with its scores

// Where a call's rows find the cache: layer `layer` of `data`, position p of row r's sequence in
// block block_table[row_seq[r] * max_blocks + p / block_size] at offset p % block_size.
struct CacheView {
  float *data;
  int layer, blocks, block_size, width;
  const int32_t *block_table;
  int max_blocks;
  const int32_t *row_seq, *row_pos;

  __device__ const int32_t *table(int row) const { return block_table + size_t(row_seq[row]) * max_blocks; }
  __device__ float *slot(const int32_t *table, int pos) const {
    return data + ((size_t(layer) * blocks + size_t(table[pos / block_size])) * block_size + pos % block_size) *
                      size_t(width);
  }
};

// RMSNorm of x [dim] in place by the whole block: one thread sums the squares in index order.
__device__ void block_rms_norm(float *x, int dim, const float *w, float eps) {
  __shared__ float factor;
  if (threadIdx.x == 0) factor = rms_factor(x, dim, eps);
  __syncthreads();
  const float r = factor;
  for (int i = threadIdx.x; i < dim; i += blockDim.x) x[i] = rms_apply(x[i], r, w[i]);
  __syncthreads();
}

// Pair i of a head's first 2 * pairs dims: (i, i + pairs), or (2i, 2i + 1) when interleaved.
__device__ __forceinline__ void rotate(float *head, int i, int pairs, bool interleaved, const float *table) {
  if (interleaved)
    rotate_pair(head[2 * i], head[2 * i + 1], table[i], table[pairs + i]);
  else
    rotate_pair(head[i], head[i + pairs], table[i], table[pairs + i]);
}

__global__ void rms_norm_rows_kernel(float *x, size_t ld, int dim, const float *w, float eps) {
  block_rms_norm(x + blockIdx.x * ld, dim, w, eps);
}

struct GqaRows {
  float *proj;  // [rows, ld]: q, k, v
  size_t ld;
  int heads, kv_heads, head_dim;
  int qk_norm;
  const float *q_norm, *k_norm;
  float eps, clip;
  int pairs;
  bool interleaved;
  const float *rope;  // [positions][2 * pairs]
};

// One block per row, in transformers' order: q/k norms, clip, RoPE; then k and v into the cache.
__global__ void __launch_bounds__(kRowThreads) gqa_rows_kernel(CacheView cv, GqaRows g) {
  __shared__ float factor[2];  // ALL: q's and k's
  const int r = blockIdx.x, tid = threadIdx.x, hd = g.head_dim;
  const int q_out = g.heads * hd, kv_out = g.kv_heads * hd, qk_heads = g.heads + g.kv_heads;
  float *q = g.proj + size_t(r) * g.ld;  // k follows q: k head t - heads is head t of q..k
  if (g.qk_norm == MOE_QK_NORM_HEAD) {
    // A thread per head: its sum of squares is sequential anyway.
    for (int t = tid; t < qk_heads; t += kRowThreads) {
      float *x = q + size_t(t) * hd;
      const float *w = t < g.heads ? g.q_norm : g.k_norm;
      const float f = rms_factor(x, hd, g.eps);
      for (int i = 0; i < hd; ++i) x[i] = rms_apply(x[i], f, w[i]);
    }
    __syncthreads();
  } else if (g.qk_norm == MOE_QK_NORM_ALL) {
    if (tid == 0) factor[0] = rms_factor(q, q_out, g.eps);
    if (tid == kRowThreads - 1) factor[1] = rms_factor(q + q_out, kv_out, g.eps);
    __syncthreads();
    for (int i = tid; i < q_out + kv_out; i += kRowThreads)
      q[i] = i < q_out ? rms_apply(q[i], factor[0], g.q_norm[i]) : rms_apply(q[i], factor[1], g.k_norm[i - q_out]);
    __syncthreads();
  }
  if (g.clip > 0) {
    for (int i = tid; i < q_out + 2 * kv_out; i += kRowThreads) q[i] = cpu_clamp(q[i], g.clip);
    __syncthreads();
  }
  const int pos = cv.row_pos[r];
  if (g.pairs > 0) {
    const float *table = g.rope + size_t(pos) * 2 * g.pairs;
    for (int e = tid; e < qk_heads * g.pairs; e += kRowThreads)
      rotate(q + size_t(e / g.pairs) * hd, e % g.pairs, g.pairs, g.interleaved, table);
    __syncthreads();
  }
  float *slot = cv.slot(cv.table(r), pos);
  for (int i = tid; i < 2 * kv_out; i += kRowThreads) slot[i] = q[q_out + i];  // keys, then values
}

struct MlaRows {
  float *proj;  // [rows, ld]: [q_a] c_kv k_pe
  size_t ld;
  int q_lora, kv_lora, rope_dim;
  float *q;  // [rows, heads * (nope + rope_dim)]
  int heads, nope;
  const float *kv_norm;
  float eps;
  bool interleaved;
  const float *rope;
};

// One block per row: c_kv's norm, RoPE of k_pe and of every head's q_pe; c_kv and k_pe into the cache.
__global__ void __launch_bounds__(kRowThreads) mla_rows_kernel(CacheView cv, MlaRows m) {
  const int r = blockIdx.x, tid = threadIdx.x, pairs = m.rope_dim / 2, qk = m.nope + m.rope_dim;
  float *kv = m.proj + size_t(r) * m.ld + m.q_lora, *q = m.q + size_t(r) * m.heads * qk;
  block_rms_norm(kv, m.kv_lora, m.kv_norm, m.eps);
  const int pos = cv.row_pos[r];
  const float *table = m.rope + size_t(pos) * 2 * pairs;
  for (int e = tid; e < (1 + m.heads) * pairs; e += kRowThreads) {
    const int t = e / pairs;
    rotate(t == 0 ? kv + m.kv_lora : q + size_t(t - 1) * qk + m.nope, e % pairs, pairs, m.interleaved, table);
  }
  __syncthreads();
  float *slot = cv.slot(cv.table(r), pos);
  for (int i = tid; i < m.kv_lora + m.rope_dim; i += kRowThreads) slot[i] = kv[i];
}

// The rows and heads of an attention pass, and each block's scores (scores_stride floats).
struct AttendItems {
  int rows, heads;
  float *scores;
  size_t scores_stride;
};

// Blocks walk the (row, head) items; each item: scores of its keys (a warp per key), the softmax
// (max, exps, their sum over 8 lanes as the CPU's AVX2 loop does), then each output dim's weighted sum
// of the values over the keys in order.
//
// A faster version would stage the query and blocks of keys in shared memory, give MLA's heads of
// one row a single pass over the latent cache, and for long contexts split the keys at fixed
// absolute positions with a fixed combine order (the CPU backend would have to do the same).
__global__ void __launch_bounds__(kAttendThreads) attend_kernel(CacheView cv, AttendShape a, AttendItems w) {
  __shared__ float partial[kAttendWarps];
  __shared__ float lanes[8];
  __shared__ float stats[2];  // the maximum score, 1 / the sum of exps
  const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32;
  float *scores = w.scores + blockIdx.x * w.scores_stride;
  for (int item = blockIdx.x; item < w.rows * w.heads; item += gridDim.x) {
    const int row = item / w.heads, h = item % w.heads, p = cv.row_pos[row];
    const int32_t *table = cv.table(row);
    const int lo = a.window > 0 ? max(0, p - a.window + 1) : 0, n = p - lo + 1;
    const int group = (h / a.group_heads) * a.group_stride;
    const float *qa = a.qa + row * a.qa_row + h * a.qa_head;
    const float *qb = a.db ? a.qb + row * a.qb_row + h * a.qb_head : nullptr;

    for (int j = warp; j < n; j += kAttendWarps) {
      const float *slot = cv.slot(table, lo + j);
      float s = key_dot(qa, slot + a.ka + group, a.da, lane);
      if (a.db) s = __fadd_rn(s, key_dot(qb, slot + a.kb + group, a.db, lane));
      if (lane == 0) scores[j] = __fmul_rn(s, a.scale);
    }
    __syncthreads();

    // The CPU's maximum starts from the first score, so a NaN there stays; later NaNs are skipped,
    // and which of +0 and -0 wins does not change any exp.
    float m = -INFINITY;
    for (int j = tid; j < n; j += kAttendThreads) m = m < scores[j] ? scores[j] : m;
    for (int o = 16; o > 0; o /= 2) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, o));
    if (lane == 0) partial[warp] = m;
    __syncthreads();
    if (tid == 0) {
      for (int w = 1; w < kAttendWarps; ++w) m = fmaxf(m, partial[w]);
      stats[0] = isnan(scores[0]) ? scores[0] : m;
    }
    __syncthreads();
    m = stats[0];
    for (int j = tid; j < n; j += kAttendThreads) scores[j] = cpu_exp(__fsub_rn(scores[j], m));
    __syncthreads();
    const int n8 = n & ~7;
    if (tid < 8) {
      float acc = 0.0f;
      for (int j = tid; j < n8; j += 8) acc = __fadd_rn(acc, scores[j]);
      lanes[tid] = acc;
    }
    __syncthreads();
    if (tid == 0) {
      float sum = __fadd_rn(__fadd_rn(__fadd_rn(lanes[0], lanes[4]), __fadd_rn(lanes[2], lanes[6])),
                            __fadd_rn(__fadd_rn(lanes[1], lanes[5]), __fadd_rn(lanes[3], lanes[7])));
      for (int j = n8; j < n; ++j) sum = __fadd_rn(sum, scores[j]);
      stats[1] = __fdiv_rn(1.0f, sum);
    }
    __syncthreads();

    // The CPU's axpy: FMAs on the dims of whole 8-lane vectors, a product and a sum on the rest.
    const float inv = stats[1];
    const int dv8 = a.dv & ~7, bs = cv.block_size;
    const size_t width = size_t(cv.width);
    float *out = a.out + row * a.out_row + h * a.out_head;
    for (int d = tid; d < a.dv; d += kAttendThreads) {
      const bool vector_lane = d < dv8;
      float o = 0.0f;
      for (int j = lo; j <= p;) {
        const int len = min(bs - j % bs, p - j + 1);
        const float *v = cv.slot(table, j) + a.vo + group + d, *e = scores + (j - lo);
        if (vector_lane) {
#pragma unroll 4
          for (int t = 0; t < len; ++t) o = fmaf(e[t], v[t * width], o);
        } else {
          for (int t = 0; t < len; ++t) o = __fadd_rn(o, __fmul_rn(e[t], v[t * width]));
        }
        j += len;
      }
      out[d] = __fmul_rn(o, inv);
    }
    __syncthreads();  // the next item overwrites the scores
  }
}

class CudaKvCache final : public KvCache {
 public:
  CudaKvCache(CudaRuntime &rt, int layers, int blocks, int block_size, int width)
      : KvCache(layers, blocks, block_size, width) {
    rt.activate();
    const size_t bytes = size_t(layers) * blocks * block_size * width * sizeof(float);
    data_.reserve(bytes);
    cuda_check(cudaMemsetAsync(data_.as<void>(), 0, bytes, rt.stream), "cudaMemsetAsync (KV cache)");
    rt.sync();
  }
  float *data() const { return data_.as<float>(); }

 private:
  DeviceBuffer data_;
};

class CudaAttention final : public Attention {
 public:
  CudaAttention(CudaRuntime &rt, const moe_attention_config &config) : Attention(config), rt_(rt) {}

  void set(moe_attention_tensor which, const void *data, moe_dtype src_dtype, moe_dtype dtype) override {
    rt_.activate();
    const TensorSpec spec = attention_tensor_spec(config(), which);
    if (!spec.matrix) {
      const float *v = static_cast<const float *>(data);
      vec_[which].upload(rt_, v, int(spec.rows));
      if (which == MOE_ATTN_INV_FREQ) inv_freq_.assign(v, v + spec.rows);
      return;
    }
    if (which != MOE_ATTN_KV_B) {
      mat_[which].upload(rt_, int(spec.rows), int(spec.cols), data, src_dtype, dtype);
      return;
    }
    // kv_b [heads * (nope + v), kv_lora]: per head, nope rows of W_uk then v rows of W_uv. Stored as
    // W_uk^T [kv_lora, nope] (queries absorb it) and W_uv [v, kv_lora] per head, widened to float32 on
    // the way (exact) and then converted to the storage dtype, as the CPU packs it.
    const moe_attention_config &c = config();
    const int nope = c.qk_nope_head_dim, vd = c.v_head_dim, lora = c.kv_lora_rank, heads = c.heads;
    std::vector<float> w(size_t(spec.elems())), uk(size_t(heads) * lora * nope), uv(size_t(heads) * vd * lora);
    convert(data, src_dtype, w.size(), MOE_F32, w.data());
    for (int h = 0; h < heads; ++h) {
      const float *head = w.data() + size_t(h) * (nope + vd) * lora;
      for (int i = 0; i < nope; ++i)
        for (int j = 0; j < lora; ++j) uk[(size_t(h) * lora + j) * nope + i] = head[size_t(i) * lora + j];
      std::copy(head + size_t(nope) * lora, head + size_t(nope + vd) * lora, uv.begin() + size_t(h) * vd * lora);
    }
    uk_.upload(rt_, heads * lora, nope, uk.data(), MOE_F32, dtype);
    uv_.upload(rt_, heads * vd, lora, uv.data(), MOE_F32, dtype);
  }

  void forward(KvCache &cache, int layer, const float *x, int nseq, const int32_t *seq_rows,
               const int32_t *seq_start, const int32_t *block_table, int max_blocks, float *y) override {
    rt_.activate();
    const moe_attention_config &c = config();
    // The rows' sequences and positions, then the block table: one upload.
    int rows = 0;
    for (int i = 0; i < nseq; ++i) rows += seq_rows[i];
    std::vector<int32_t> &meta = rt_.host_meta;
    meta.resize(2 * size_t(rows) + size_t(nseq) * max_blocks);
    int keys = 0, last = 0;
    for (int i = 0, r = 0; i < nseq; ++i)
      for (int j = 0; j < seq_rows[i]; ++j, ++r) {
        const int p = seq_start[i] + j;
        meta[r] = i;
        meta[size_t(rows) + r] = p;
        keys = std::max(keys, c.sliding_window > 0 ? std::min(p + 1, c.sliding_window) : p + 1);
        last = std::max(last, p);
      }
    std::copy(block_table, block_table + size_t(nseq) * max_blocks, meta.begin() + 2 * size_t(rows));
    // Growing a buffer frees the old one, which waits for the device: all of it happens before the
    // first upload, so nothing interrupts the pass once it is queued.
    const float *rope = c.rotary_dim > 0 ? rt_.rope.get(inv_freq_, c.rope_scale, last + 1, rt_.stream) : nullptr;
    rt_.meta.reserve(meta.size() * sizeof(int32_t));
    rt_.x.reserve(size_t(rows) * c.hidden * sizeof(float));
    rt_.y.reserve(size_t(rows) * c.hidden * sizeof(float));
    reserve_scratch(rows, keys);
    rt_.upload(rt_.meta.as<void>(), meta.data(), meta.size() * sizeof(int32_t), "cudaMemcpyAsync (rows)");
    rt_.upload(rt_.x.as<void>(), x, size_t(rows) * c.hidden * sizeof(float), "cudaMemcpyAsync (x)");
    const int32_t *dev_meta = rt_.meta.as<int32_t>();
    const CudaKvCache &kv = static_cast<const CudaKvCache &>(cache);
    const CacheView cv{kv.data(), layer,    kv.blocks(), kv.block_size(), kv.width(), dev_meta + 2 * size_t(rows),
                       max_blocks, dev_meta, dev_meta + rows};
    const Step step{cv, rows, keys, rope, rt_.x.as<float>(), rt_.y.as<float>()};
    if (c.kind == MOE_ATTN_GQA)
      forward_gqa(step);
    else
      forward_mla(step);
    rt_.download(y, rt_.y.as<void>(), size_t(rows) * c.hidden * sizeof(float), "cudaMemcpyAsync (y)");
    rt_.sync();
  }

 private:
  // One forward pass's device inputs: the cache view, the rows, the most keys a row attends to.
  struct Step {
    CacheView cv;
    int rows, keys;
    const float *rope, *x;
    float *y;
  };

  const DeviceMatrix &matrix(int which) const { return mat_[which]; }
  const float *vector(int which) const { return vec_[which].get(); }

  // out = a @ m^T (+ the matrix's bias), for the rows of a pass.
  void project(int which, int bias, const float *a, size_t lda, int rows, float *out, size_t ldo) const {
    multiply(rt_, matrix(which), bias < 0 ? nullptr : vector(bias), a, lda, rows, out, ldo);
  }

  // MLA's per-head products: out[r, h * n + j] = sum_i in[r, h * in_head + i] * block h of m [j, i].
  void per_head(const DeviceMatrix &m, int n, int k, const float *in, size_t ld_in, size_t in_head, int rows,
                float *out, size_t ld_out) const {
    GemmShape shape{n, k, m.data.as<void>(), size_t(n) * k, 0, 0};
    shape.lda = ld_in;
    shape.ldc = ld_out;
    shape.a_slot_offset = in_head;
    shape.c_slot_offset = size_t(n);
    launch_gemm_dense(rows, config().heads, shape, m.dtype == MOE_BF16, in, out, rt_.stream);
  }

  // Blocks of the attention kernel: each keeps one item's scores.
  int attend_blocks(int rows) const { return std::min(rows * config().heads, rt_.multiprocessors * kBlocksPerSm); }

  // The pass's device scratch (see forward_gqa and forward_mla for what each holds).
  void reserve_scratch(int rows, int keys) const {
    const moe_attention_config &c = config();
    const size_t r = size_t(rows), f = sizeof(float);
    if (c.kind == MOE_ATTN_GQA) {
      const size_t q_out = size_t(c.heads) * c.head_dim, kv_out = size_t(c.kv_heads) * c.head_dim;
      rt_.proj.reserve(r * (q_out + 2 * kv_out) * f);
      rt_.mixed.reserve(r * q_out * f);
    } else {
      const size_t ld = size_t(c.q_lora_rank) + c.kv_lora_rank + c.qk_rope_head_dim;
      const size_t ld_lat = size_t(c.heads) * c.kv_lora_rank, ld_v = size_t(c.heads) * c.v_head_dim;
      rt_.proj.reserve(r * std::max(ld, ld_v) * f);
      rt_.query.reserve(r * c.heads * (size_t(c.qk_nope_head_dim) + c.qk_rope_head_dim) * f);
      rt_.latent.reserve(r * ld_lat * f);
      rt_.mixed.reserve(r * ld_lat * f);
    }
    rt_.scores.reserve(size_t(attend_blocks(rows)) * size_t(keys) * f);
  }

  void attend(const Step &s, const AttendShape &a) const {
    const AttendItems w{s.rows, config().heads, rt_.scores.as<float>(), size_t(s.keys)};
    attend_kernel<<<attend_blocks(s.rows), kAttendThreads, 0, rt_.stream>>>(s.cv, a, w);
    cuda_check(cudaGetLastError(), "attend_kernel launch");
  }

  void forward_gqa(const Step &s) const {
    const moe_attention_config &c = config();
    const int rows = s.rows, hd = c.head_dim, q_out = c.heads * hd, kv_out = c.kv_heads * hd;
    const size_t ld = size_t(q_out) + 2 * size_t(kv_out);  // a row of proj: q, k, v
    float *proj = rt_.proj.as<float>(), *mixed = rt_.mixed.as<float>();
    // Three launches; storing q, k and v as one matrix (when their dtypes agree) would make it one.
    project(MOE_ATTN_Q, MOE_ATTN_Q_BIAS, s.x, size_t(c.hidden), rows, proj, ld);
    project(MOE_ATTN_K, MOE_ATTN_K_BIAS, s.x, size_t(c.hidden), rows, proj + q_out, ld);
    project(MOE_ATTN_V, MOE_ATTN_V_BIAS, s.x, size_t(c.hidden), rows, proj + q_out + kv_out, ld);

    const GqaRows g{proj, ld, c.heads, c.kv_heads, hd, c.qk_norm, vector(MOE_ATTN_Q_NORM), vector(MOE_ATTN_K_NORM),
                    c.norm_eps, c.clip_qkv, c.rotary_dim / 2, c.rope_interleaved != 0, s.rope};
    gqa_rows_kernel<<<rows, kRowThreads, 0, rt_.stream>>>(s.cv, g);
    cuda_check(cudaGetLastError(), "gqa_rows_kernel launch");

    const AttendShape a{proj, ld, size_t(hd), hd, nullptr, 0, 0, 0, mixed, size_t(q_out), size_t(hd), hd,
                        0, 0, kv_out, c.heads / c.kv_heads, hd, c.softmax_scale, c.sliding_window};
    attend(s, a);

    project(MOE_ATTN_O, MOE_ATTN_O_BIAS, mixed, size_t(q_out), rows, s.y, size_t(c.hidden));
  }

  void forward_mla(const Step &s) const {
    const moe_attention_config &c = config();
    const int rows = s.rows, heads = c.heads, nope = c.qk_nope_head_dim, rope = c.qk_rope_head_dim;
    const int lora = c.kv_lora_rank, vd = c.v_head_dim, q_lora = c.q_lora_rank, qk = nope + rope;
    const size_t q_out = size_t(heads) * qk;
    const size_t ld = size_t(q_lora) + lora + rope;  // a row of proj: [q_a (q_lora_rank > 0)] c_kv k_pe
    const size_t ld_lat = size_t(heads) * lora, ld_v = size_t(heads) * vd;
    // proj later holds the heads' outputs [rows, heads * v_head_dim].
    float *proj = rt_.proj.as<float>(), *q = rt_.query.as<float>(), *q_lat = rt_.latent.as<float>();
    float *o_lat = rt_.mixed.as<float>();
    const size_t hidden = size_t(c.hidden);

    if (q_lora == 0) {
      project(MOE_ATTN_Q, MOE_ATTN_Q_BIAS, s.x, hidden, rows, q, q_out);
      project(MOE_ATTN_KV_A, MOE_ATTN_KV_A_BIAS, s.x, hidden, rows, proj, ld);
    } else {
      project(MOE_ATTN_Q_A, MOE_ATTN_Q_A_BIAS, s.x, hidden, rows, proj, ld);
      project(MOE_ATTN_KV_A, MOE_ATTN_KV_A_BIAS, s.x, hidden, rows, proj + q_lora, ld);
      rms_norm_rows_kernel<<<rows, kRowThreads, 0, rt_.stream>>>(proj, ld, q_lora, vector(MOE_ATTN_Q_A_NORM),
                                                                 c.norm_eps);
      cuda_check(cudaGetLastError(), "rms_norm_rows_kernel launch");
      project(MOE_ATTN_Q_B, -1, proj, ld, rows, q, q_out);
    }

    const MlaRows m{proj, ld, q_lora, lora, rope, q, heads, nope, vector(MOE_ATTN_KV_A_NORM), c.norm_eps,
                    c.rope_interleaved != 0, s.rope};
    mla_rows_kernel<<<rows, kRowThreads, 0, rt_.stream>>>(s.cv, m);
    cuda_check(cudaGetLastError(), "mla_rows_kernel launch");

    // Absorbed attention: q_nope . (W_uk c) = (W_uk^T q_nope) . c per head, and the heads' values
    // W_uv (sum_j w_j c_j), so the latent cache is never expanded.
    per_head(uk_, lora, nope, q, q_out, size_t(qk), rows, q_lat, ld_lat);
    const AttendShape a{q_lat, ld_lat, size_t(lora), lora, q + nope, q_out, size_t(qk), rope, o_lat, ld_lat,
                        size_t(lora), lora, 0, lora, 0, heads, 0, c.softmax_scale, c.sliding_window};
    attend(s, a);
    per_head(uv_, vd, lora, o_lat, ld_lat, size_t(lora), rows, proj, ld_v);

    project(MOE_ATTN_O, MOE_ATTN_O_BIAS, proj, ld_v, rows, s.y, hidden);
  }

  CudaRuntime &rt_;
  std::array<DeviceMatrix, kAttentionTensors> mat_;  // matrices, by moe_attention_tensor
  std::array<DeviceVector, kAttentionTensors> vec_;  // biases, norm weights, inv_freq
  std::vector<float> inv_freq_;                      // the RoPE table's key
  DeviceMatrix uk_, uv_;                             // MLA: kv_b per head, [heads][kv_lora][nope], [heads][v][kv_lora]
};

}  // namespace

std::unique_ptr<Attention> make_cuda_attention(CudaRuntime &rt, const moe_attention_config &config) {
  return std::make_unique<CudaAttention>(rt, config);
}

std::unique_ptr<KvCache> make_cuda_kv_cache(CudaRuntime &rt, int layers, int blocks, int block_size, int width) {
  return std::make_unique<CudaKvCache>(rt, layers, blocks, block_size, width);
}

}  // namespace moe

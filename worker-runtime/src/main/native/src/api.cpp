// The C API: argument checks, the thread's last error, and dispatch to the backends.
#include <cmath>
#include <cstring>
#include <limits>
#include <new>
#include <string>

#include "attention_spec.h"
#include "cpu/ops.h"
#include "cpu/stats.h"
#include "internal.h"

using moe::Error;
using moe::fail;

namespace {

thread_local std::string last_error;

// Runs body, turning any exception into a status and the thread's last error (the caller knows
// which function it called, so messages do not repeat its name).
template <typename Body>
moe_status guarded(Body body) {
  try {
    body();
    return MOE_OK;
  } catch (const Error &e) {
    last_error = e.what();
    return e.status();
  } catch (const std::bad_alloc &) {
    last_error = "out of host memory";
    return MOE_ERR_NOMEM;
  } catch (const std::exception &e) {
    last_error = e.what();
    return MOE_ERR_BACKEND;
  }
}

void require(bool ok, const char *what) {
  if (!ok) fail(MOE_ERR_INVALID, what);
}

void require_not_null(const void *p, const char *name) {
  if (!p) fail(MOE_ERR_INVALID, std::string(name) + " is null");
}

void require_positive(long long v, const char *name) {
  if (v <= 0) fail(MOE_ERR_INVALID, std::string(name) + " must be > 0, got " + std::to_string(v));
}

void require_dtype(moe_dtype dtype, const char *name) {
  if (dtype != MOE_F32 && dtype != MOE_BF16)
    fail(MOE_ERR_INVALID, std::string(name) + " is not a known moe_dtype: " + std::to_string(int(dtype)));
}

void require_slot(const moe_experts *experts, int slot) {
  require_not_null(experts, "experts");
  if (slot < 0 || slot >= experts->bank->slots())
    fail(MOE_ERR_INVALID, "slot " + std::to_string(slot) + " is outside [0, " +
                              std::to_string(experts->bank->slots()) + ")");
}

void require_same_ctx(const moe_ctx *ctx, const moe_ctx *owner, const char *what) {
  if (ctx != owner) fail(MOE_ERR_INVALID, std::string(what) + " was created with another context");
}

std::string str(long long v) { return std::to_string(v); }

// The positions one sequence of a forward touches: it writes [start, last] and reads [first, last].
struct SeqSpan {
  int first, start, last;
};

}  // namespace

extern "C" {

#define MOE_API __attribute__((visibility("default")))

MOE_API const char *moe_last_error(void) { return last_error.c_str(); }

MOE_API const char *moe_build_info(void) {
  static const std::string info = [] {
    std::string s = "moe_runtime " MOE_VERSION " cpu(avx2,fma)";
    if (*moe::cuda_build_info()) s += std::string(" ") + moe::cuda_build_info();
    return s;
  }();
  return info.c_str();
}

MOE_API int moe_cuda_device_count(void) { return moe::cuda_device_count(); }

MOE_API moe_status moe_ctx_create(moe_backend_kind kind, int threads, moe_ctx **out) {
  return guarded([&] {
    require_not_null(out, "out");
    *out = nullptr;
    auto ctx = std::make_unique<moe_ctx>();
    switch (kind) {
      case MOE_BACKEND_CPU:
        ctx->backend = moe::make_cpu_backend(threads);
        break;
      case MOE_BACKEND_CUDA:
        ctx->backend = moe::make_cuda_backend(threads);
        break;
      default:
        fail(MOE_ERR_INVALID, "unknown backend kind " + std::to_string(int(kind)));
    }
    *out = ctx.release();
  });
}

MOE_API void moe_ctx_free(moe_ctx *ctx) { delete ctx; }

MOE_API moe_backend_kind moe_ctx_kind(const moe_ctx *ctx) { return ctx->backend->kind(); }

MOE_API int moe_ctx_threads(const moe_ctx *ctx) { return ctx->backend->threads(); }

MOE_API moe_status moe_experts_create(moe_ctx *ctx, int slots, int hidden, int inter, moe_dtype dtype,
                                      moe_experts **out) {
  return guarded([&] {
    require_not_null(out, "out");
    *out = nullptr;
    require_not_null(ctx, "ctx");
    require_positive(slots, "slots");
    require_positive(hidden, "hidden");
    require_positive(inter, "inter");
    require_dtype(dtype, "dtype");
    auto experts = std::make_unique<moe_experts>();
    experts->ctx = ctx;
    experts->bank = ctx->backend->create_bank(slots, hidden, inter, dtype);
    *out = experts.release();
  });
}

MOE_API void moe_experts_free(moe_experts *experts) { delete experts; }

MOE_API moe_status moe_experts_load(moe_experts *experts, int slot, const void *gate, const void *up,
                                    const void *down, moe_dtype src_dtype) {
  return guarded([&] {
    require_slot(experts, slot);
    require_not_null(gate, "gate");
    require_not_null(up, "up");
    require_not_null(down, "down");
    require_dtype(src_dtype, "src_dtype");
    experts->bank->load(slot, gate, up, down, src_dtype);
  });
}

MOE_API size_t moe_experts_slot_bytes(const moe_experts *experts) { return experts->bank->slot_bytes(); }

MOE_API moe_status moe_experts_export(moe_experts *experts, int slot, void *dst) {
  return guarded([&] {
    require_slot(experts, slot);
    require_not_null(dst, "dst");
    experts->bank->export_slot(slot, dst);
  });
}

MOE_API moe_status moe_experts_import(moe_experts *experts, int slot, const void *src) {
  return guarded([&] {
    require_slot(experts, slot);
    require_not_null(src, "src");
    experts->bank->import_slot(slot, src);
  });
}

MOE_API moe_status moe_experts_copy(moe_experts *experts, int slot, const moe_experts *src, int src_slot) {
  return guarded([&] {
    require_slot(experts, slot);
    require_slot(src, src_slot);
    require(src->ctx == experts->ctx, "the source bank was created with another context");
    const moe::ExpertBank &from = *src->bank, &to = *experts->bank;
    require(from.hidden() == to.hidden() && from.inter() == to.inter() && from.dtype() == to.dtype(),
            "the source bank's experts have another shape or dtype");
    experts->bank->copy_slot(slot, from, src_slot);
  });
}

MOE_API moe_status moe_experts_checksum(moe_experts *experts, int slot, uint64_t *out) {
  return guarded([&] {
    require_slot(experts, slot);
    require_not_null(out, "out");
    *out = experts->bank->checksum(slot);
  });
}

MOE_API uint64_t moe_checksum(const void *bytes, size_t n) { return moe::fnv1a(bytes, n); }

MOE_API moe_status moe_experts_ffn(moe_ctx *ctx, moe_experts *experts, const float *x, int rows,
                                   const int32_t *slot_ids, const int64_t *offsets, int groups, float *y) {
  return guarded([&] {
    require_not_null(ctx, "ctx");
    require_not_null(experts, "experts");
    require(experts->ctx == ctx, "experts were created with another context");
    require(rows >= 0, "rows must be >= 0");
    require(groups >= 0, "groups must be >= 0");
    require_not_null(offsets, "offsets");
    if (offsets[0] != 0) fail(MOE_ERR_INVALID, "offsets[0] must be 0, got " + std::to_string(offsets[0]));
    if (offsets[groups] != rows)
      fail(MOE_ERR_INVALID, "offsets[groups] = " + std::to_string(offsets[groups]) + " but rows = " +
                                std::to_string(rows));
    if (groups > 0) require_not_null(slot_ids, "slot_ids");
    for (int g = 0; g < groups; ++g) {
      if (offsets[g + 1] < offsets[g])
        fail(MOE_ERR_INVALID, "offsets decrease at group " + std::to_string(g));
      if (slot_ids[g] < 0 || slot_ids[g] >= experts->bank->slots())
        fail(MOE_ERR_INVALID, "slot_ids[" + std::to_string(g) + "] = " + std::to_string(slot_ids[g]) +
                                  " is outside [0, " + std::to_string(experts->bank->slots()) + ")");
    }
    if (rows == 0) return;
    require_not_null(x, "x");
    require_not_null(y, "y");
    experts->bank->ffn(x, rows, slot_ids, offsets, groups, y);
  });
}

MOE_API moe_status moe_linear(moe_ctx *ctx, const float *x, int rows, int in, const void *w,
                              moe_dtype w_dtype, int out, float *y) {
  return guarded([&] {
    require_not_null(ctx, "ctx");
    require(rows >= 0, "rows must be >= 0");
    require_positive(in, "in");
    require_positive(out, "out");
    require_dtype(w_dtype, "w_dtype");
    require_not_null(w, "w");
    if (rows == 0) return;
    require_not_null(x, "x");
    require_not_null(y, "y");
    ctx->backend->linear(x, rows, in, w, w_dtype, out, y);
  });
}

MOE_API moe_status moe_router_softmax_topk(const float *logits, int tokens, int experts, int k, int normalize,
                                           int32_t *ids, float *weights) {
  return guarded([&] {
    require(tokens >= 0, "tokens must be >= 0");
    require_positive(experts, "experts");
    if (k <= 0 || k > experts)
      fail(MOE_ERR_INVALID, "k = " + std::to_string(k) + " must be in [1, experts = " +
                                std::to_string(experts) + "]");
    if (tokens == 0) return;
    require_not_null(logits, "logits");
    require_not_null(ids, "ids");
    require_not_null(weights, "weights");
    moe::router_softmax_topk(logits, tokens, experts, k, normalize != 0, ids, weights);
  });
}

MOE_API moe_status moe_router_sigmoid_group_topk(const float *logits, const float *bias, int tokens,
                                                 int experts, int n_group, int topk_group, int k, int normalize,
                                                 float scale, int32_t *ids, float *weights) {
  return guarded([&] {
    require(tokens >= 0, "tokens must be >= 0");
    require_positive(experts, "experts");
    require_positive(n_group, "n_group");
    if (experts % n_group != 0 || experts / n_group < 2)
      fail(MOE_ERR_INVALID, "experts = " + std::to_string(experts) + " must split into n_group = " +
                                std::to_string(n_group) + " equal groups of at least 2");
    if (topk_group <= 0 || topk_group > n_group)
      fail(MOE_ERR_INVALID, "topk_group = " + std::to_string(topk_group) + " must be in [1, n_group = " +
                                std::to_string(n_group) + "]");
    const int kept = topk_group * (experts / n_group);
    if (k <= 0 || k > kept)
      fail(MOE_ERR_INVALID, "k = " + std::to_string(k) + " must be in [1, " + std::to_string(kept) +
                                "] (the experts in topk_group groups)");
    require_not_null(bias, "bias");
    if (tokens == 0) return;
    require_not_null(logits, "logits");
    require_not_null(ids, "ids");
    require_not_null(weights, "weights");
    moe::router_sigmoid_group_topk(logits, bias, tokens, experts, n_group, topk_group, k, normalize != 0,
                                   scale, ids, weights);
  });
}

MOE_API moe_status moe_combine(const float *rows, const int32_t *row_of, const float *weights, int tokens,
                               int k, int hidden, float *out) {
  return guarded([&] {
    require(tokens >= 0, "tokens must be >= 0");
    require_positive(k, "k");
    require_positive(hidden, "hidden");
    if (tokens == 0) return;
    require_not_null(row_of, "row_of");
    require_not_null(weights, "weights");
    require_not_null(out, "out");
    bool any_row = false;
    for (size_t i = 0; i < size_t(tokens) * k; ++i) {
      if (row_of[i] < -1) fail(MOE_ERR_INVALID, "row_of[" + std::to_string(i) + "] must be >= -1");
      any_row |= row_of[i] >= 0;
    }
    if (any_row) require_not_null(rows, "rows");
    moe::combine(rows, row_of, weights, tokens, k, hidden, out);
  });
}

MOE_API moe_status moe_stats_create(int layers, int experts, int k, int sample_every, moe_stats **out) {
  return guarded([&] {
    require_not_null(out, "out");
    *out = nullptr;
    require_positive(layers, "layers");
    require_positive(experts, "experts");
    require_positive(k, "k");
    require_positive(sample_every, "sample_every");
    *out = new moe_stats{moe::RoutingStats(layers, experts, k, sample_every)};
  });
}

MOE_API void moe_stats_free(moe_stats *stats) { delete stats; }

MOE_API moe_status moe_stats_record(moe_stats *stats, int layer, const int32_t *ids, int tokens,
                                    const int64_t *keys) {
  return guarded([&] {
    require_not_null(stats, "stats");
    const moe::RoutingStats &s = stats->impl;
    if (layer < 0 || layer >= s.layers())
      fail(MOE_ERR_INVALID, "layer " + std::to_string(layer) + " is outside [0, " + std::to_string(s.layers()) +
                                ")");
    require(tokens >= 0, "tokens must be >= 0");
    if (tokens == 0) return;
    require_not_null(ids, "ids");
    require_not_null(keys, "keys");
    for (size_t i = 0; i < size_t(tokens) * s.k(); ++i)
      if (ids[i] < 0 || ids[i] >= s.experts())
        fail(MOE_ERR_INVALID, "ids[" + std::to_string(i) + "] = " + std::to_string(ids[i]) +
                                  " is outside [0, " + std::to_string(s.experts()) + ")");
    stats->impl.record(layer, ids, tokens, keys);
  });
}

MOE_API moe_status moe_stats_snapshot(moe_stats *stats, int64_t *counts, int64_t *transitions, int reset) {
  return guarded([&] {
    require_not_null(stats, "stats");
    require_not_null(counts, "counts");
    stats->impl.snapshot(counts, transitions, reset != 0);
  });
}

MOE_API moe_status moe_matrix_create(moe_ctx *ctx, int out, int in, const void *w, moe_dtype src_dtype,
                                     moe_dtype dtype, const float *bias, moe_matrix **res) {
  return guarded([&] {
    require_not_null(res, "res");
    *res = nullptr;
    require_not_null(ctx, "ctx");
    require_positive(out, "out");
    require_positive(in, "in");
    require_dtype(src_dtype, "src_dtype");
    require_dtype(dtype, "dtype");
    require_not_null(w, "w");
    auto m = std::make_unique<moe_matrix>();
    m->ctx = ctx;
    m->impl = ctx->backend->create_matrix(out, in, w, src_dtype, dtype, bias);
    *res = m.release();
  });
}

MOE_API void moe_matrix_free(moe_matrix *m) { delete m; }

MOE_API moe_status moe_matrix_mul(moe_ctx *ctx, moe_matrix *m, const float *x, int rows, float *y) {
  return guarded([&] {
    require_not_null(ctx, "ctx");
    require_not_null(m, "m");
    require_same_ctx(ctx, m->ctx, "the matrix");
    require(rows >= 0, "rows must be >= 0");
    if (rows == 0) return;
    require_not_null(x, "x");
    require_not_null(y, "y");
    m->impl->mul(x, rows, y);
  });
}

MOE_API moe_status moe_rms_norm(const float *x, int rows, int dim, const float *w, float eps, float *y) {
  return guarded([&] {
    require(rows >= 0, "rows must be >= 0");
    require_positive(dim, "dim");
    if (!std::isfinite(eps)) fail(MOE_ERR_INVALID, "eps is not finite");
    if (rows == 0) return;
    require_not_null(x, "x");
    require_not_null(w, "w");
    require_not_null(y, "y");
    for (int r = 0; r < rows; ++r) moe::rms_norm_row(x + size_t(r) * dim, dim, w, eps, y + size_t(r) * dim);
  });
}

MOE_API moe_status moe_attention_create(moe_ctx *ctx, const moe_attention_config *config, moe_attention **out) {
  return guarded([&] {
    require_not_null(out, "out");
    *out = nullptr;
    require_not_null(ctx, "ctx");
    require_not_null(config, "config");
    moe::validate_attention_config(*config);
    auto a = std::make_unique<moe_attention>();
    a->ctx = ctx;
    a->impl = ctx->backend->create_attention(*config);
    *out = a.release();
  });
}

MOE_API void moe_attention_free(moe_attention *attention) { delete attention; }

MOE_API moe_status moe_attention_set(moe_attention *attention, moe_attention_tensor which, const void *data,
                                     moe_dtype src_dtype, moe_dtype dtype, int64_t elems) {
  return guarded([&] {
    require_not_null(attention, "attention");
    if (int(which) < 0 || int(which) >= moe::kAttentionTensors)
      fail(MOE_ERR_INVALID, "which = " + str(which) + " is not a moe_attention_tensor");
    const char *name = moe::attention_tensor_name(which);
    const moe_attention_config &c = attention->impl->config();
    const moe::TensorSpec spec = moe::attention_tensor_spec(c, which);
    if (!spec.applies) {
      const std::string kind =
          c.kind == MOE_ATTN_GQA
              ? "GQA, qk_norm " + str(c.qk_norm) + ", rotary_dim " + str(c.rotary_dim)
              : "MLA, q_lora_rank " + str(c.q_lora_rank);
      fail(MOE_ERR_INVALID, std::string(name) + " does not apply to this attention (" + kind + ")");
    }
    require_dtype(src_dtype, "src_dtype");
    require_dtype(dtype, "dtype");
    if (!spec.matrix && (src_dtype != MOE_F32 || dtype != MOE_F32))
      fail(MOE_ERR_INVALID, std::string(name) + " is a float32 vector: src_dtype and dtype must be MOE_F32");
    if (elems != spec.elems())
      fail(MOE_ERR_INVALID, std::string(name) + " has " +
                                (spec.matrix ? "[" + str(spec.rows) + ", " + str(spec.cols) + "] = " : "") +
                                str(spec.elems()) + " elements, got elems = " + str(elems));
    require_not_null(data, "data");
    attention->impl->set(which, data, src_dtype, dtype);
    attention->set_mask |= 1u << which;
  });
}

MOE_API int moe_attention_cache_width(const moe_attention *attention) {
  return moe::attention_cache_width(attention->impl->config());
}

MOE_API moe_status moe_kv_cache_create(moe_ctx *ctx, int layers, int blocks, int block_size, int width,
                                       moe_kv_cache **out) {
  return guarded([&] {
    require_not_null(out, "out");
    *out = nullptr;
    require_not_null(ctx, "ctx");
    require_positive(layers, "layers");
    require_positive(blocks, "blocks");
    require_positive(block_size, "block_size");
    require_positive(width, "width");
    // Positions are int: a sequence may hold at most every block.
    if (int64_t(blocks) * block_size > std::numeric_limits<int32_t>::max())
      fail(MOE_ERR_INVALID, "blocks * block_size = " + str(int64_t(blocks) * block_size) + " positions exceed 2^31 - 1");
    const double bytes = double(layers) * blocks * block_size * width * sizeof(float);
    if (bytes > double(std::numeric_limits<int64_t>::max() / 2))
      fail(MOE_ERR_INVALID, "a KV cache of " + std::to_string(bytes) + " bytes is beyond any memory");
    auto cache = std::make_unique<moe_kv_cache>();
    cache->ctx = ctx;
    cache->impl = ctx->backend->create_kv_cache(layers, blocks, block_size, width);
    cache->written_call.assign(size_t(blocks), 0);
    cache->written_seq.assign(size_t(blocks), -1);
    *out = cache.release();
  });
}

MOE_API void moe_kv_cache_free(moe_kv_cache *cache) { delete cache; }

MOE_API moe_status moe_attention_forward(moe_ctx *ctx, moe_attention *attention, moe_kv_cache *cache, int layer,
                                         const float *x, int nseq, const int32_t *seq_rows, const int32_t *seq_start,
                                         const int32_t *block_table, int max_blocks, float *y) {
  return guarded([&] {
    require_not_null(ctx, "ctx");
    require_not_null(attention, "attention");
    require_not_null(cache, "cache");
    require_same_ctx(ctx, attention->ctx, "the attention");
    require_same_ctx(ctx, cache->ctx, "the cache");
    const moe_attention_config &c = attention->impl->config();
    const moe::KvCache &kv = *cache->impl;
    if (layer < 0 || layer >= kv.layers())
      fail(MOE_ERR_INVALID, "layer " + str(layer) + " is outside the cache's layers [0, " + str(kv.layers()) + ")");
    const int width = moe::attention_cache_width(c);
    if (kv.width() != width)
      fail(MOE_ERR_INVALID, "the cache holds " + str(kv.width()) + " floats a position, this attention needs " +
                                str(width));
    require(nseq >= 0, "nseq must be >= 0");
    if (nseq == 0) return;
    require_not_null(seq_rows, "seq_rows");
    require_not_null(seq_start, "seq_start");
    int64_t rows = 0;
    for (int i = 0; i < nseq; ++i) {
      if (seq_rows[i] < 0) fail(MOE_ERR_INVALID, "seq_rows[" + str(i) + "] = " + str(seq_rows[i]) + " is negative");
      if (seq_start[i] < 0)
        fail(MOE_ERR_INVALID, "seq_start[" + str(i) + "] = " + str(seq_start[i]) + " is negative");
      if (int64_t(seq_start[i]) + seq_rows[i] > std::numeric_limits<int32_t>::max())
        fail(MOE_ERR_INVALID, "sequence " + str(i) + " goes past position 2^31 - 1");
      rows += seq_rows[i];
    }
    if (rows > std::numeric_limits<int32_t>::max())
      fail(MOE_ERR_INVALID, "seq_rows sum to " + str(rows) + " rows, more than 2^31 - 1");
    if (rows == 0) return;
    std::string missing;
    for (int t = 0; t < moe::kAttentionTensors; ++t)
      if (moe::attention_tensor_spec(c, t).required && !(attention->set_mask & (1u << t)))
        missing += std::string(missing.empty() ? "" : ", ") + moe::attention_tensor_name(t);
    if (!missing.empty()) fail(MOE_ERR_INVALID, "required tensors are not set: " + missing);
    require_positive(max_blocks, "max_blocks");
    require_not_null(block_table, "block_table");
    require_not_null(x, "x");
    require_not_null(y, "y");

    // Every block a sequence reads or writes exists, and no block written by one sequence is
    // touched by another in the same call (their threads would race).
    const int bs = kv.block_size();
    const uint64_t call = ++cache->calls;
    for (int pass = 0; pass < 2; ++pass)
      for (int i = 0; i < nseq; ++i) {
        if (seq_rows[i] == 0) continue;
        const int start = seq_start[i], last = start + seq_rows[i] - 1;
        const int first = c.sliding_window > 0 ? std::max(0, start - c.sliding_window + 1) : 0;
        if (last / bs >= max_blocks)
          fail(MOE_ERR_INVALID, "sequence " + str(i) + ": position " + str(last) + " is past its max_blocks * block_size = " +
                                    str(int64_t(max_blocks) * bs) + " positions");
        const int32_t *table = block_table + size_t(i) * max_blocks;
        for (int bi = (pass == 0 ? start : first) / bs; bi <= last / bs; ++bi) {
          const int32_t block = table[bi];
          if (block < 0 || block >= kv.blocks())
            fail(MOE_ERR_INVALID, "sequence " + str(i) + ": block_table[" + str(int64_t(i) * max_blocks + bi) + "] = " +
                                      str(block) + " is outside the cache's blocks [0, " + str(kv.blocks()) + ")");
          if (cache->written_call[block] == call && cache->written_seq[block] != i)
            fail(MOE_ERR_INVALID, "block " + str(block) + " is written by sequence " + str(cache->written_seq[block]) +
                                      " and " + (pass == 0 ? "written" : "read") + " by sequence " + str(i) +
                                      " in the same call");
          if (pass == 0) {
            cache->written_call[block] = call;
            cache->written_seq[block] = i;
          }
        }
      }
    attention->impl->forward(*cache->impl, layer, x, nseq, seq_rows, seq_start, block_table, max_blocks, y);
  });
}

MOE_API double moe_bench_fma_peak_gflops(int threads, double seconds) {
  return moe::bench_fma_peak_gflops(threads, seconds);
}

MOE_API double moe_bench_read_bandwidth_gbs(size_t bytes, int threads, double seconds) {
  return moe::bench_read_bandwidth_gbs(bytes, threads, seconds);
}

MOE_API moe_status moe_bench_experts_ffn(moe_ctx *ctx, moe_experts *experts, int rows, int groups, int iters,
                                         double *seconds) {
  return guarded([&] {
    require_not_null(ctx, "ctx");
    require_not_null(experts, "experts");
    require(experts->ctx == ctx, "experts were created with another context");
    require_positive(rows, "rows");
    require_positive(iters, "iters");
    if (groups <= 0 || groups > experts->bank->slots())
      fail(MOE_ERR_INVALID, "groups = " + std::to_string(groups) + " must be in [1, slots = " +
                                std::to_string(experts->bank->slots()) + "]");
    require_not_null(seconds, "seconds");
    *seconds = experts->bank->bench_ffn(rows, groups, iters);
  });
}

}  // extern "C"

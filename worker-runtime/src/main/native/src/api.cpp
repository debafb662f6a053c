// The C API: argument checks, the thread's last error, and dispatch to the backends.
#include <cstring>
#include <new>
#include <string>

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

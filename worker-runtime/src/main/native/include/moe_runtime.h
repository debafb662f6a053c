/*
 * moe_runtime.h: the native boundary of the worker runtime.
 *
 * A small, flat C API over opaque handles, called from Java through the FFM API. Every function
 * that can fail returns a moe_status; on failure moe_last_error() gives a message for this thread.
 * All tensors crossing this boundary are host memory, row-major, float32 unless a moe_dtype says
 * otherwise; the CUDA backend copies them to and from the device itself. A context and the
 * handles made with it are used by one thread at a time; the caller serialises.
 */
#ifndef MOE_RUNTIME_H
#define MOE_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  MOE_OK = 0,
  MOE_ERR_INVALID = 1,     /* a bad argument: shape, index, null pointer */
  MOE_ERR_NOMEM = 2,       /* host or device allocation failed */
  MOE_ERR_BACKEND = 3,     /* the CUDA runtime or a kernel failed */
  MOE_ERR_UNSUPPORTED = 4  /* backend or dtype not built in / not available */
} moe_status;

typedef enum { MOE_BACKEND_CPU = 0, MOE_BACKEND_CUDA = 1 } moe_backend_kind;

typedef enum { MOE_F32 = 0, MOE_BF16 = 1 } moe_dtype;

typedef struct moe_ctx moe_ctx;         /* a backend: a CPU thread pool, or one CUDA device and stream */
typedef struct moe_experts moe_experts; /* a bank of fixed expert slots of one shape */
typedef struct moe_stats moe_stats;     /* routing statistics accumulated over steps */

/* Message of the last failure on the calling thread ("" if none). Valid until the next call. */
const char *moe_last_error(void);

/* Build information, e.g. "moe_runtime 0.1.0 cpu(avx2,fma) cuda(sm_90a)". */
const char *moe_build_info(void);

/* Number of CUDA devices usable by this library: 0 when built without CUDA or none is visible. */
int moe_cuda_device_count(void);

/* A CPU context with `threads` worker threads (<= 0: one per online core), or a CUDA context on
 * device `threads` (the device ordinal). */
moe_status moe_ctx_create(moe_backend_kind kind, int threads, moe_ctx **out);
void moe_ctx_free(moe_ctx *ctx);
moe_backend_kind moe_ctx_kind(const moe_ctx *ctx);
/* The resolved `threads` of moe_ctx_create: worker threads (CPU), or the device ordinal (CUDA). */
int moe_ctx_threads(const moe_ctx *ctx);

/* ---- Expert slots: SwiGLU FFNs y = down(silu(gate x) * up x) ----------------------------------
 * gate and up are [inter, hidden], down is [hidden, inter], as in the checkpoints (nn.Linear's
 * [out, in]). Weights are stored in `dtype` (bf16 is widened to float32 inside the kernels, and
 * every accumulation is float32). A new bank's slots hold zeros. */
moe_status moe_experts_create(moe_ctx *ctx, int slots, int hidden, int inter, moe_dtype dtype,
                              moe_experts **out);
void moe_experts_free(moe_experts *experts);

/* Copy one expert into `slot`, converting from `src_dtype` (MOE_BF16: raw bf16 bits, uint16). */
moe_status moe_experts_load(moe_experts *experts, int slot, const void *gate, const void *up,
                            const void *down, moe_dtype src_dtype);

/* Bytes of one slot in the canonical export layout: gate, up, down, row-major, in the bank's dtype. */
size_t moe_experts_slot_bytes(const moe_experts *experts);

/* Export / import one slot in the canonical layout, so weights can move between workers whatever
 * their backend's internal layout. */
moe_status moe_experts_export(moe_experts *experts, int slot, void *dst);
moe_status moe_experts_import(moe_experts *experts, int slot, const void *src);

/* 64-bit FNV-1a of the slot's canonical export bytes, computed from what the backend holds (so it
 * verifies the whole path a moved expert took). Equal to moe_checksum over moe_experts_export's bytes. */
moe_status moe_experts_checksum(moe_experts *experts, int slot, uint64_t *out);
uint64_t moe_checksum(const void *bytes, size_t n);

/* Grouped SwiGLU FFN (a grouped GEMM over tokens sorted by expert).
 * x: [rows, hidden]; rows [offsets[g], offsets[g+1]) go through slot slot_ids[g], g < groups;
 * offsets has groups + 1 entries, offsets[0] = 0, offsets[groups] = rows, non-decreasing.
 * y: [rows, hidden], overwritten. */
moe_status moe_experts_ffn(moe_ctx *ctx, moe_experts *experts, const float *x, int rows,
                           const int32_t *slot_ids, const int64_t *offsets, int groups, float *y);

/* ---- Routers and combine --------------------------------------------------------------------- */

/* y[rows, out] = x[rows, in] @ w^T, w [out, in] in `w_dtype` (MOE_BF16: raw bf16 bits). */
moe_status moe_linear(moe_ctx *ctx, const float *x, int rows, int in, const void *w,
                      moe_dtype w_dtype, int out, float *y);

/* Softmax top-k (Mixtral, Qwen2/3-MoE, OLMoE): p = softmax(logits[t]) over `experts` in float32;
 * ids = the k largest p (descending; ties to the lower index); weights = p[ids], divided by their
 * sum when `normalize` != 0. */
moe_status moe_router_softmax_topk(const float *logits, int tokens, int experts, int k,
                                   int normalize, int32_t *ids, float *weights);

/* DeepSeek-V3 (noaux_tc): s = sigmoid(logits); c = s + bias; experts form n_group equal groups;
 * a group's score is the sum of its two largest c; the topk_group best groups are kept; ids = the
 * k largest c among kept experts (descending; ties to the lower index); weights = s[ids], divided
 * by (their sum + 1e-20) when `normalize` != 0, then times `scale`. */
moe_status moe_router_sigmoid_group_topk(const float *logits, const float *bias, int tokens,
                                         int experts, int n_group, int topk_group, int k,
                                         int normalize, float scale, int32_t *ids, float *weights);

/* out[t] += sum_j weights[t*k+j] * rows[row_of[t*k+j]] over j < k (row_of = -1: skipped), in
 * order j = 0..k-1. rows: [*, hidden]; out: [tokens, hidden]. */
moe_status moe_combine(const float *rows, const int32_t *row_of, const float *weights, int tokens,
                       int k, int hidden, float *out);

/* ---- Routing statistics (aggregates only; no per-token route is ever kept) -------------------- */

/* Counts per (layer, expert) of every routed (token, choice), and, for a deterministic sample of
 * tokens (those whose key hashes to 0 modulo sample_every; 1 = all), transition counts between the
 * experts a token chose at layer l and at layer l + 1 (all k x k pairs). */
moe_status moe_stats_create(int layers, int experts, int k, int sample_every, moe_stats **out);
void moe_stats_free(moe_stats *stats);

/* Record one layer's routing of `tokens` tokens; ids [tokens, k]; keys [tokens] identify tokens
 * across layers of the same step (a token's transitions pair its layer l and l + 1 records). */
moe_status moe_stats_record(moe_stats *stats, int layer, const int32_t *ids, int tokens,
                            const int64_t *keys);

/* Copy out and optionally reset: counts [layers, experts]; transitions [layers - 1, experts,
 * experts] (may be null to skip). */
moe_status moe_stats_snapshot(moe_stats *stats, int64_t *counts, int64_t *transitions, int reset);

/* ---- Machine figures for the kernel benchmark ------------------------------------------------ */

/* Peak float32 FMA throughput in GFLOP/s (2 flops per lane per FMA) with `threads` threads, using
 * the instruction set of the kernels (AVX2 on the CPU); the best of a few trials within `seconds`. */
double moe_bench_fma_peak_gflops(int threads, double seconds);

/* Sustained read bandwidth in GB/s streaming a `bytes` buffer with `threads` threads (the best of a
 * few trials within `seconds`). */
double moe_bench_read_bandwidth_gbs(size_t bytes, int threads, double seconds);

/* Seconds per call of moe_experts_ffn on `rows` rows spread evenly over slots 0..groups-1, with
 * inputs and outputs already resident in the backend's memory (device memory on CUDA), so only the
 * grouped GEMMs are timed; median of `iters` calls after one warm-up. */
moe_status moe_bench_experts_ffn(moe_ctx *ctx, moe_experts *experts, int rows, int groups,
                                 int iters, double *seconds);

#ifdef __cplusplus
}
#endif

#endif /* MOE_RUNTIME_H */

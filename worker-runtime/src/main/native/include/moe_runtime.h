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

/* Copies slot `src_slot` of `src` into slot `slot` of `experts`: banks of one context, one shape and one
 * dtype. A copy inside the backend's memory, for placement changes that keep an expert on its worker. */
moe_status moe_experts_copy(moe_experts *experts, int slot, const moe_experts *src, int src_slot);

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

/* ---- The rest of a decoder layer: dense weights, norms, attention over a paged KV cache --------
 * Batch invariance: every function below computes each row (token) with a reduction order that
 * depends only on that row's own data and position, never on how many rows share the call, which
 * other sequences are in it, or how a sequence's earlier tokens were split into calls. So a
 * request's results are bit-identical whatever else is batched with it. */

typedef struct moe_matrix moe_matrix;     /* a dense weight matrix [out, in] held by a backend */
typedef struct moe_attention moe_attention; /* one decoder layer's self-attention and its weights */
typedef struct moe_kv_cache moe_kv_cache; /* paged key/value memory of every layer, on the backend */

/* w [out, in] (nn.Linear's layout) in `src_dtype` (MOE_BF16: raw bf16 bits), stored in `dtype`
 * (bf16 rounds to nearest even); `bias` [out] float32, or null for none. */
moe_status moe_matrix_create(moe_ctx *ctx, int out, int in, const void *w, moe_dtype src_dtype,
                             moe_dtype dtype, const float *bias, moe_matrix **res);
void moe_matrix_free(moe_matrix *m);

/* y [rows, out] = x [rows, in] @ w^T (+ bias); float32 accumulation. rows >= 0 (0: nothing). */
moe_status moe_matrix_mul(moe_ctx *ctx, moe_matrix *m, const float *x, int rows, float *y);

/* RMSNorm of each of `rows` rows of `dim` floats: y = x / sqrt(mean(x^2) + eps) * w, in float32
 * with the sum of squares accumulated in float32 in index order (as transformers' RMSNorm on fp32
 * tensors); exactly, y[i] = w[i] * (x[i] * r) with r = 1.0f / sqrtf(ss / dim + eps), each operation
 * rounded to float32. w [dim]; y may equal x. Host memory, computed on the calling thread. */
moe_status moe_rms_norm(const float *x, int rows, int dim, const float *w, float eps, float *y);

typedef enum { MOE_ATTN_GQA = 0, MOE_ATTN_MLA = 1 } moe_attention_kind;

typedef enum {
  MOE_QK_NORM_NONE = 0,
  MOE_QK_NORM_HEAD = 1, /* RMSNorm of each q and k head over head_dim (Qwen3-MoE) */
  MOE_QK_NORM_ALL = 2   /* RMSNorm of the whole q projection and the whole k projection (OLMoE) */
} moe_qk_norm;

/* All fields are 32-bit, in this order (Java lays the struct out from this list). */
typedef struct {
  int32_t kind;             /* moe_attention_kind */
  int32_t hidden;           /* model width: rows of x and y */
  int32_t heads;            /* query heads */
  int32_t kv_heads;         /* GQA: key/value heads (divides heads); MLA: unused */
  int32_t head_dim;         /* GQA: width of each q, k and v head; MLA: unused */
  int32_t rotary_dim;       /* GQA: leading dims of each q/k head that RoPE rotates (even, <= head_dim);
                               MLA: must equal qk_rope_head_dim */
  int32_t rope_interleaved; /* 0: dim i pairs with i + rotary_dim/2 (rotate_half); 1: 2i with 2i+1 */
  int32_t qk_norm;          /* moe_qk_norm (GQA only) */
  int32_t sliding_window;   /* > 0: a query at position p sees keys at positions > p - sliding_window */
  int32_t q_lora_rank;      /* MLA: 0 = q_proj, else q_a_proj -> RMSNorm -> q_b_proj */
  int32_t kv_lora_rank;     /* MLA: width of the compressed latent c_kv */
  int32_t qk_nope_head_dim; /* MLA (>= 1) */
  int32_t qk_rope_head_dim; /* MLA */
  int32_t v_head_dim;       /* MLA */
  float softmax_scale;      /* scores = softmax_scale * q . k */
  float rope_scale;         /* multiplies cos and sin (YaRN's attention factor; 1 otherwise) */
  float clip_qkv;           /* GQA, > 0: q, k, v each clamped to [-clip_qkv, clip_qkv] after the projection
                               and the q/k norms, before RoPE (OLMoE's order) */
  float norm_eps;           /* epsilon of the q/k norms and of MLA's q_a / kv_a norms */
} moe_attention_config;

/* Tensors of an attention layer (sizes in elements; matrices [out, in] as nn.Linear stores them). */
typedef enum {
  MOE_ATTN_Q = 0,        /* GQA [heads*head_dim, hidden]; MLA with q_lora_rank 0: [heads*(nope+rope), hidden] */
  MOE_ATTN_K = 1,        /* GQA [kv_heads*head_dim, hidden] */
  MOE_ATTN_V = 2,        /* GQA [kv_heads*head_dim, hidden] */
  MOE_ATTN_O = 3,        /* [hidden, heads*head_dim]; MLA [hidden, heads*v_head_dim] */
  MOE_ATTN_Q_BIAS = 4,   /* optional float32 biases of the matrices above */
  MOE_ATTN_K_BIAS = 5,
  MOE_ATTN_V_BIAS = 6,
  MOE_ATTN_O_BIAS = 7,
  MOE_ATTN_Q_NORM = 8,   /* float32 [head_dim] (HEAD) or [heads*head_dim] (ALL) */
  MOE_ATTN_K_NORM = 9,   /* float32 [head_dim] (HEAD) or [kv_heads*head_dim] (ALL) */
  MOE_ATTN_Q_A = 10,     /* MLA q_a_proj [q_lora_rank, hidden] */
  MOE_ATTN_Q_A_BIAS = 11,
  MOE_ATTN_Q_A_NORM = 12,  /* float32 [q_lora_rank] */
  MOE_ATTN_Q_B = 13,     /* MLA q_b_proj [heads*(nope+rope), q_lora_rank] */
  MOE_ATTN_KV_A = 14,    /* MLA kv_a_proj_with_mqa [kv_lora_rank + rope, hidden] */
  MOE_ATTN_KV_A_BIAS = 15,
  MOE_ATTN_KV_A_NORM = 16, /* float32 [kv_lora_rank] */
  MOE_ATTN_KV_B = 17,    /* MLA kv_b_proj [heads*(nope+v_head_dim), kv_lora_rank] */
  MOE_ATTN_INV_FREQ = 18 /* float32 [rotary_dim / 2]: angle of pair i at position p = p * inv_freq[i] */
} moe_attention_tensor;

moe_status moe_attention_create(moe_ctx *ctx, const moe_attention_config *config, moe_attention **out);
void moe_attention_free(moe_attention *attention);

/* Sets one tensor: `elems` must be its size. Matrices are given in `src_dtype` and stored in
 * `dtype`; biases, norm weights and inv_freq are float32 (src_dtype and dtype MOE_F32). A tensor may
 * be set again (replacing it). */
moe_status moe_attention_set(moe_attention *attention, moe_attention_tensor which, const void *data,
                             moe_dtype src_dtype, moe_dtype dtype, int64_t elems);

/* Floats one token position of one layer takes in the KV cache: GQA 2 * kv_heads * head_dim (keys,
 * then values); MLA kv_lora_rank + qk_rope_head_dim (the normed latent c_kv, then the rotated k_pe).
 * Rotated dims stay where they are: an interleaved pair (2i, 2i + 1) is rotated in place. */
int moe_attention_cache_width(const moe_attention *attention);

/* `blocks` pages of `block_size` positions for each of `layers` layers, `width` floats a position. */
moe_status moe_kv_cache_create(moe_ctx *ctx, int layers, int blocks, int block_size, int width,
                               moe_kv_cache **out);
void moe_kv_cache_free(moe_kv_cache *cache);

/* One attention sublayer over a batch of `nseq` sequences. x [rows, hidden] (the layer's input
 * after its norm) holds each sequence's new tokens, sequence after sequence: sequence i has
 * seq_rows[i] >= 0 rows at positions seq_start[i], seq_start[i] + 1, ...; rows = the sum of seq_rows
 * (0: nothing is done). Its positions' keys and values go into layer `layer` of `cache`, position p
 * in block block_table[i * max_blocks + p / block_size] at offset p % block_size; all of a call's
 * positions are written first, so a sequence's rows in one call see each other. Each row attends
 * causally to its own sequence's positions 0..p (within the sliding window), those before seq_start[i]
 * written by earlier calls. y [rows, hidden] = o_proj(attention output). Every missing required
 * tensor, a block index out of range (of the blocks a sequence reads or writes; other table entries
 * are not read), a position past the sequence's max_blocks blocks, and a block written by one
 * sequence that another sequence of the same call also reads or writes (their results would race)
 * are MOE_ERR_INVALID. Sequences may share blocks they only read (a common prefix). */
moe_status moe_attention_forward(moe_ctx *ctx, moe_attention *attention, moe_kv_cache *cache, int layer,
                                 const float *x, int nseq, const int32_t *seq_rows, const int32_t *seq_start,
                                 const int32_t *block_table, int max_blocks, float *y);

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

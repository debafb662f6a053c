// Internal interfaces shared by the C API (api.cpp) and the backends (cpu/, cuda/).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "moe_runtime.h"

namespace moe {

// Failures travel as exceptions inside the library; api.cpp turns them into a moe_status and the
// thread's last error, so no exception ever crosses the C boundary.
class Error : public std::runtime_error {
 public:
  Error(moe_status status, const std::string &message) : std::runtime_error(message), status_(status) {}
  moe_status status() const { return status_; }

 private:
  moe_status status_;
};

[[noreturn]] inline void fail(moe_status status, const std::string &message) { throw Error(status, message); }

inline size_t dtype_size(moe_dtype dtype) { return dtype == MOE_BF16 ? 2 : 4; }

// A bank of expert slots; the backend chooses the storage layout, the canonical layout (gate, up,
// down, row-major, in the bank's dtype) is only what crosses this interface. Arguments arrive
// validated by api.cpp.
class ExpertBank {
 public:
  ExpertBank(int slots, int hidden, int inter, moe_dtype dtype)
      : slots_(slots), hidden_(hidden), inter_(inter), dtype_(dtype) {}
  virtual ~ExpertBank() = default;

  int slots() const { return slots_; }
  int hidden() const { return hidden_; }
  int inter() const { return inter_; }
  moe_dtype dtype() const { return dtype_; }
  size_t matrix_elems() const { return size_t(hidden_) * size_t(inter_); }
  size_t slot_bytes() const { return 3 * matrix_elems() * dtype_size(dtype_); }

  // gate and up are [inter, hidden], down is [hidden, inter], each in `src_dtype`.
  virtual void load(int slot, const void *gate, const void *up, const void *down, moe_dtype src_dtype) = 0;
  virtual void export_slot(int slot, void *dst) = 0;
  // Slot `src_slot` of `src` (a bank of this backend with this shape and dtype) into `slot`.
  virtual void copy_slot(int slot, const ExpertBank &src, int src_slot) = 0;
  virtual uint64_t checksum(int slot) = 0;
  virtual void ffn(const float *x, int rows, const int32_t *slot_ids, const int64_t *offsets, int groups,
                   float *y) = 0;
  // See moe_bench_experts_ffn.
  virtual double bench_ffn(int rows, int groups, int iters) = 0;

  void import_slot(int slot, const void *src) {
    const char *bytes = static_cast<const char *>(src);
    const size_t matrix_bytes = matrix_elems() * dtype_size(dtype_);
    load(slot, bytes, bytes + matrix_bytes, bytes + 2 * matrix_bytes, dtype_);
  }

 private:
  int slots_, hidden_, inter_;
  moe_dtype dtype_;
};

// A dense weight matrix [out, in] with an optional bias (moe_matrix).
class Matrix {
 public:
  Matrix(int out, int in, moe_dtype dtype) : out_(out), in_(in), dtype_(dtype) {}
  virtual ~Matrix() = default;

  int out() const { return out_; }
  int in() const { return in_; }
  moe_dtype dtype() const { return dtype_; }

  // y [rows, out] = x [rows, in] @ w^T (+ bias); rows > 0.
  virtual void mul(const float *x, int rows, float *y) = 0;

 private:
  int out_, in_;
  moe_dtype dtype_;
};

// Paged key/value memory: layers x blocks x block_size positions of `width` floats, held by the
// backend (device memory on CUDA); only the backend's attention reads and writes it.
class KvCache {
 public:
  KvCache(int layers, int blocks, int block_size, int width)
      : layers_(layers), blocks_(blocks), block_size_(block_size), width_(width) {}
  virtual ~KvCache() = default;

  int layers() const { return layers_; }
  int blocks() const { return blocks_; }
  int block_size() const { return block_size_; }
  int width() const { return width_; }

 private:
  int layers_, blocks_, block_size_, width_;
};

// One decoder layer's self-attention (moe_attention). The configuration arrives validated, and
// set/forward arguments checked against it (attention_spec.h), by api.cpp.
class Attention {
 public:
  explicit Attention(const moe_attention_config &config) : config_(config) {}
  virtual ~Attention() = default;

  const moe_attention_config &config() const { return config_; }

  // Stores tensor `which` (attention_tensor_spec's shape; vectors float32).
  virtual void set(moe_attention_tensor which, const void *data, moe_dtype src_dtype, moe_dtype dtype) = 0;

  // moe_attention_forward with rows = sum(seq_rows) > 0, every required tensor set, every block
  // the call touches in range, and `cache` of this backend with this layer's width.
  virtual void forward(KvCache &cache, int layer, const float *x, int nseq, const int32_t *seq_rows,
                       const int32_t *seq_start, const int32_t *block_table, int max_blocks, float *y) = 0;

 private:
  moe_attention_config config_;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual moe_backend_kind kind() const = 0;
  virtual int threads() const = 0;
  virtual std::unique_ptr<ExpertBank> create_bank(int slots, int hidden, int inter, moe_dtype dtype) = 0;
  virtual void linear(const float *x, int rows, int in, const void *w, moe_dtype w_dtype, int out,
                      float *y) = 0;
  // w [out, in] in src_dtype, stored in dtype; bias [out] or null.
  virtual std::unique_ptr<Matrix> create_matrix(int out, int in, const void *w, moe_dtype src_dtype, moe_dtype dtype,
                                                const float *bias) = 0;
  virtual std::unique_ptr<Attention> create_attention(const moe_attention_config &config) = 0;
  virtual std::unique_ptr<KvCache> create_kv_cache(int layers, int blocks, int block_size, int width) = 0;
};

std::unique_ptr<Backend> make_cpu_backend(int threads);

// Implemented by cuda/ when the CUDA backend is built, and by cuda/no_cuda.cpp otherwise.
std::unique_ptr<Backend> make_cuda_backend(int device);
int cuda_device_count();
const char *cuda_build_info();  // e.g. "cuda(sm_90a)", or "" without CUDA

}  // namespace moe

struct moe_ctx {
  std::unique_ptr<moe::Backend> backend;
};

struct moe_experts {
  moe_ctx *ctx;
  std::unique_ptr<moe::ExpertBank> bank;
};

struct moe_matrix {
  moe_ctx *ctx;
  std::unique_ptr<moe::Matrix> impl;
};

struct moe_attention {
  moe_ctx *ctx;
  std::unique_ptr<moe::Attention> impl;
  uint32_t set_mask = 0;  // bit t: tensor t has been set
};

struct moe_kv_cache {
  moe_ctx *ctx;
  std::unique_ptr<moe::KvCache> impl;
  // Per block, the forward call and the sequence that last wrote it, to refuse a batch in which a
  // block written by one sequence is touched by another (a race whose result would depend on the
  // threads' timing).
  std::vector<uint64_t> written_call;
  std::vector<int32_t> written_seq;
  uint64_t calls = 0;
};

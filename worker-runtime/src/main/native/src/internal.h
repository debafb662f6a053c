// Internal interfaces shared by the C API (api.cpp) and the backends (cpu/, cuda/).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

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

class Backend {
 public:
  virtual ~Backend() = default;
  virtual moe_backend_kind kind() const = 0;
  virtual int threads() const = 0;
  virtual std::unique_ptr<ExpertBank> create_bank(int slots, int hidden, int inter, moe_dtype dtype) = 0;
  virtual void linear(const float *x, int rows, int in, const void *w, moe_dtype w_dtype, int out,
                      float *y) = 0;
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

// The CUDA backend's per-context state, shared by its expert banks, dense matrices and attention:
// the device, its stream, scratch buffers reused across calls, and the RoPE tables.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "cuda/cuda_util.h"
#include "internal.h"

namespace moe {

// Host data converted to `dst` dtype (bf16 rounds to nearest even, as the CPU backend does).
void convert(const void *src, moe_dtype src_dtype, size_t n, moe_dtype dst_dtype, void *dst);

// cos and sin of every position up to a bound, for one inv_freq and scale, computed on the host with
// the CPU backend's rope_cos_sin (so both backends rotate by the same bits) and kept on the device.
// Layers with the same RoPE share one table.
class RopeTables {
 public:
  // The device table [rows >= positions][2 * pairs] (position p's cos, then sin), grown when needed.
  // Growing reallocates and uploads synchronously: call it before a forward pass launches anything.
  const float *get(const std::vector<float> &inv_freq, float scale, int positions, cudaStream_t stream);

 private:
  struct Table {
    std::vector<float> inv_freq;
    float scale;
    std::vector<float> host;
    int rows = 0;
    DeviceBuffer device;
  };
  std::vector<std::unique_ptr<Table>> tables_;
};

struct CudaRuntime {
  int device = 0;
  int multiprocessors = 1;
  cudaStream_t stream = nullptr;
  // Expert FFN and moe_linear.
  DeviceBuffer x, y, act, x_hi, x_lo, act_hi, act_lo, tiles, weights;
  // Attention: per-row metadata, projections, queries, latents, mixed heads, softmax scores.
  DeviceBuffer meta, proj, query, latent, mixed, scores;
  std::vector<int32_t> host_meta;
  RopeTables rope;

  void activate() const { cuda_check(cudaSetDevice(device), "cudaSetDevice"); }
  void sync() const { cuda_check(cudaStreamSynchronize(stream), "cudaStreamSynchronize"); }
  void upload(void *dst, const void *src, size_t bytes, const char *what) const {
    cuda_check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream), what);
  }
  void download(void *dst, const void *src, size_t bytes, const char *what) const {
    cuda_check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream), what);
  }
};

// Dense weights [n, k] resident on the device in their storage dtype.
struct DeviceMatrix {
  int n = 0, k = 0;
  moe_dtype dtype = MOE_F32;
  DeviceBuffer data;

  bool empty() const { return n == 0; }
  // w: n rows of k elements in src_dtype, converted to `storage`; synchronous.
  void upload(const CudaRuntime &rt, int rows, int cols, const void *w, moe_dtype src_dtype, moe_dtype storage);
};

// Float32 vector on the device (biases, norm weights); empty = not set.
struct DeviceVector {
  int n = 0;
  DeviceBuffer data;
  const float *get() const { return n ? data.as<float>() : nullptr; }
  void upload(const CudaRuntime &rt, const float *v, int elems);
};

// c [rows, m.n] (row stride ldc) = a [rows, m.k] (row stride lda) @ m^T (+ bias [m.n] unless null).
void multiply(const CudaRuntime &rt, const DeviceMatrix &m, const float *bias, const float *a, size_t lda, int rows,
              float *c, size_t ldc);

std::unique_ptr<Matrix> make_cuda_matrix(CudaRuntime &rt, int out, int in, const void *w, moe_dtype src_dtype,
                                         moe_dtype dtype, const float *bias);
std::unique_ptr<Attention> make_cuda_attention(CudaRuntime &rt, const moe_attention_config &config);
std::unique_ptr<KvCache> make_cuda_kv_cache(CudaRuntime &rt, int layers, int blocks, int block_size, int width);

}  // namespace moe

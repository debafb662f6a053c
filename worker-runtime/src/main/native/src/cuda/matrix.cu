// Dense weights on the device (moe_matrix, and the matrices of attention), host conversion, and the
// RoPE tables.
#include <algorithm>
#include <cstring>

#include "cpu/bf16.h"
#include "cpu/ops.h"
#include "cuda/gemm.h"
#include "cuda/runtime.h"

namespace moe {

void convert(const void *src, moe_dtype src_dtype, size_t n, moe_dtype dst_dtype, void *dst) {
  if (src_dtype == dst_dtype) {
    std::memcpy(dst, src, n * dtype_size(dst_dtype));
  } else if (dst_dtype == MOE_BF16) {
    for (size_t i = 0; i < n; ++i)
      static_cast<uint16_t *>(dst)[i] = f32_to_bf16(static_cast<const float *>(src)[i]);
  } else {
    for (size_t i = 0; i < n; ++i)
      static_cast<float *>(dst)[i] = bf16_to_f32(static_cast<const uint16_t *>(src)[i]);
  }
}

void DeviceMatrix::upload(const CudaRuntime &rt, int rows, int cols, const void *w, moe_dtype src_dtype,
                          moe_dtype storage) {
  const size_t elems = size_t(rows) * size_t(cols);
  std::vector<char> staging(elems * dtype_size(storage));
  convert(w, src_dtype, elems, storage, staging.data());
  data.reserve(staging.size());
  rt.upload(data.as<void>(), staging.data(), staging.size(), "cudaMemcpyAsync (weights)");
  rt.sync();
  n = rows;
  k = cols;
  dtype = storage;
}

void DeviceVector::upload(const CudaRuntime &rt, const float *v, int elems) {
  data.reserve(size_t(elems) * sizeof(float));
  rt.upload(data.as<void>(), v, size_t(elems) * sizeof(float), "cudaMemcpyAsync (vector)");
  rt.sync();
  n = elems;
}

void multiply(const CudaRuntime &rt, const DeviceMatrix &m, const float *bias, const float *a, size_t lda, int rows,
              float *c, size_t ldc) {
  GemmShape shape{m.n, m.k, m.data.as<void>(), 0, 0, 0};
  shape.bias = bias;
  shape.lda = lda;
  shape.ldc = ldc;
  launch_gemm_dense(rows, 1, shape, m.dtype == MOE_BF16, a, c, rt.stream);
}

const float *RopeTables::get(const std::vector<float> &inv_freq, float scale, int positions, cudaStream_t stream) {
  Table *t = nullptr;
  for (const auto &candidate : tables_)
    if (candidate->inv_freq.size() == inv_freq.size() &&
        std::memcmp(candidate->inv_freq.data(), inv_freq.data(), inv_freq.size() * sizeof(float)) == 0 &&
        std::memcmp(&candidate->scale, &scale, sizeof scale) == 0)
      t = candidate.get();
  if (!t) {
    tables_.push_back(std::make_unique<Table>());
    t = tables_.back().get();
    t->inv_freq = inv_freq;
    t->scale = scale;
  }
  if (positions > t->rows) {
    // Doubling keeps the host work per position constant and the reallocations rare.
    const int pairs = int(inv_freq.size());
    const int rows = std::max({positions, 2 * t->rows, 1024});
    t->host.resize(size_t(rows) * 2 * pairs);
    for (int p = t->rows; p < rows; ++p)
      rope_cos_sin(p, inv_freq.data(), pairs, scale, t->host.data() + size_t(p) * 2 * pairs);
    t->device.reserve(t->host.size() * sizeof(float));
    cuda_check(cudaMemcpyAsync(t->device.as<void>(), t->host.data(), t->host.size() * sizeof(float),
                               cudaMemcpyHostToDevice, stream), "cudaMemcpyAsync (RoPE table)");
    cuda_check(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
    t->rows = rows;
  }
  return t->device.as<float>();
}

namespace {

class CudaMatrix final : public Matrix {
 public:
  CudaMatrix(CudaRuntime &rt, int out, int in, const void *w, moe_dtype src_dtype, moe_dtype dtype, const float *bias)
      : Matrix(out, in, dtype), rt_(rt) {
    rt_.activate();
    w_.upload(rt_, out, in, w, src_dtype, dtype);
    if (bias) bias_.upload(rt_, bias, out);
  }

  void mul(const float *x, int rows, float *y) override {
    rt_.activate();
    const size_t x_bytes = size_t(rows) * in() * sizeof(float), y_bytes = size_t(rows) * out() * sizeof(float);
    rt_.x.reserve(x_bytes);
    rt_.y.reserve(y_bytes);
    rt_.upload(rt_.x.as<void>(), x, x_bytes, "cudaMemcpyAsync (x)");
    multiply(rt_, w_, bias_.get(), rt_.x.as<float>(), size_t(in()), rows, rt_.y.as<float>(), size_t(out()));
    rt_.download(y, rt_.y.as<void>(), y_bytes, "cudaMemcpyAsync (y)");
    rt_.sync();
  }

 private:
  CudaRuntime &rt_;
  DeviceMatrix w_;
  DeviceVector bias_;
};

}  // namespace

std::unique_ptr<Matrix> make_cuda_matrix(CudaRuntime &rt, int out, int in, const void *w, moe_dtype src_dtype,
                                         moe_dtype dtype, const float *bias) {
  return std::make_unique<CudaMatrix>(rt, out, in, w, src_dtype, dtype, bias);
}

}  // namespace moe

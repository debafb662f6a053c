// Error checks and device memory for the CUDA backend's host code.
#pragma once

#include <cuda_runtime.h>

#include <string>

#include "internal.h"

namespace moe {

inline void cuda_check(cudaError_t error, const char *what) {
  if (error == cudaSuccess) return;
  cudaGetLastError();  // clear the sticky-free error state so later calls start clean
  fail(error == cudaErrorMemoryAllocation ? MOE_ERR_NOMEM : MOE_ERR_BACKEND,
       std::string(what) + ": " + cudaGetErrorString(error));
}

// Device memory that grows on demand; contents are not kept when it grows.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  ~DeviceBuffer() {
    if (data_) cudaFree(data_);
  }
  DeviceBuffer(const DeviceBuffer &) = delete;
  DeviceBuffer &operator=(const DeviceBuffer &) = delete;

  void reserve(size_t bytes) {
    if (bytes <= size_) return;
    if (data_) cudaFree(data_);
    data_ = nullptr;
    size_ = 0;
    cuda_check(cudaMalloc(&data_, bytes), "cudaMalloc");
    size_ = bytes;
  }
  template <typename T>
  T *as() const {
    return static_cast<T *>(data_);
  }

 private:
  void *data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace moe

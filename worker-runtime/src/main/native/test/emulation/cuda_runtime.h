// CUDA on the CPU, for testing: the parts of the CUDA runtime API and of the device language that the
// CUDA backend (src/cuda/) uses, so its kernels' logic runs without a GPU (see README.md beside this).
// Device memory is host memory; a kernel launch runs its blocks one after another, each block's threads
// as fibers on the calling thread that switch at __syncthreads() and warp shuffles, so the code runs
// as written, lane by lane. What it cannot show: timing, the memory model, races between blocks, and
// the tensor cores' own summation order (mma.h sums in index order).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
// Blocks run one at a time, so one copy of a kernel's shared memory serves every block.
#define __shared__ static

struct uint3 {
  unsigned x, y, z;
};

struct dim3 {
  unsigned x, y, z;
  dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};

typedef int cudaError_t;
constexpr cudaError_t cudaSuccess = 0;
constexpr cudaError_t cudaErrorInvalidValue = 1;
constexpr cudaError_t cudaErrorMemoryAllocation = 2;
constexpr cudaError_t cudaErrorInvalidDevice = 101;

typedef struct CUstream_st *cudaStream_t;
typedef struct CUevent_st *cudaEvent_t;
constexpr unsigned cudaStreamNonBlocking = 1;

enum cudaMemcpyKind {
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3,
  cudaMemcpyDefault = 4
};
enum cudaDeviceAttr { cudaDevAttrMultiProcessorCount = 16 };

cudaError_t cudaGetDeviceCount(int *count);
cudaError_t cudaSetDevice(int device);
cudaError_t cudaDeviceGetAttribute(int *value, cudaDeviceAttr attr, int device);
cudaError_t cudaGetLastError();
const char *cudaGetErrorString(cudaError_t error);
cudaError_t cudaMalloc(void **ptr, size_t bytes);
cudaError_t cudaFree(void *ptr);
cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind, cudaStream_t stream = nullptr);
cudaError_t cudaMemsetAsync(void *dst, int value, size_t bytes, cudaStream_t stream = nullptr);
cudaError_t cudaStreamCreateWithFlags(cudaStream_t *stream, unsigned flags);
cudaError_t cudaStreamDestroy(cudaStream_t stream);
cudaError_t cudaStreamSynchronize(cudaStream_t stream);
cudaError_t cudaEventCreate(cudaEvent_t *event);
cudaError_t cudaEventDestroy(cudaEvent_t event);
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream = nullptr);
cudaError_t cudaEventSynchronize(cudaEvent_t event);
cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t start, cudaEvent_t stop);

namespace emu {

struct Thread {
  uint3 thread, block;
  dim3 block_dim, grid_dim;
  int lane, warp;
};

// The running fiber's thread.
Thread &self();
// __syncthreads() among the block's running threads, and its warp-level twin.
void sync_block();
void sync_warp();
// Lane `src` of the calling warp's `v` (every lane of the warp calls it at the same point).
float exchange(float v, int src);

// Runs body(ctx) as every thread of `grid` blocks of `block` threads. Launches are serialised.
void run(void (*body)(void *), void *ctx, dim3 grid, dim3 block);

template <typename Call>
void call(void *ctx) {
  (*static_cast<Call *>(ctx))();
}

// kernel<<<grid, block, smem, stream>>>(args...) becomes launch(kernel, grid, block, smem, stream)(args...)
// (the build rewrites the sources so); arguments are copied as a launch copies them.
template <typename Kernel>
auto launch(Kernel kernel, dim3 grid, dim3 block, size_t = 0, cudaStream_t = nullptr) {
  return [=](auto... args) {
    auto body = [&] { kernel(args...); };
    run(&call<decltype(body)>, &body, grid, block);
  };
}

}  // namespace emu

#define threadIdx (::emu::self().thread)
#define blockIdx (::emu::self().block)
#define blockDim (::emu::self().block_dim)
#define gridDim (::emu::self().grid_dim)

inline void __syncthreads() { emu::sync_block(); }

inline float __shfl_sync(unsigned, float v, int src) { return emu::exchange(v, src & 31); }
inline float __shfl_down_sync(unsigned, float v, unsigned delta) {
  const int lane = emu::self().lane;
  return emu::exchange(v, lane + int(delta) < 32 ? lane + int(delta) : lane);
}
inline float __shfl_xor_sync(unsigned, float v, int mask) { return emu::exchange(v, emu::self().lane ^ mask); }

// Round-to-nearest float operations: the emulation is compiled with -ffp-contract=off, so each rounds
// once, as on the device.
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __fsqrt_rn(float a) { return std::sqrt(a); }
inline float __int_as_float(int v) {
  float f;
  std::memcpy(&f, &v, sizeof f);
  return f;
}
// cvt.rni.s32.f32: NaN gives 0, out-of-range values saturate.
inline int __float2int_rn(float v) {
  if (std::isnan(v)) return 0;
  if (v >= 2147483647.0f) return 2147483647;
  if (v <= -2147483648.0f) return -2147483647 - 1;
  return int(std::nearbyint(v));
}
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
using std::isnan;

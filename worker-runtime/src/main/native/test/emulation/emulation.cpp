// The CUDA emulation's runtime (see cuda_runtime.h): device memory, streams, events, and kernel
// launches whose threads are fibers switched by a small x86-64 context switch.
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <vector>

#include "cuda_runtime.h"

// Saves the callee-saved registers on the current stack, stores the stack pointer in *save, switches
// to `next` (a stack saved the same way, or a new fiber's) and restores its registers.
extern "C" void moe_emulation_switch(void **save, void *next);
asm(R"(
  .text
  .globl moe_emulation_switch
  .hidden moe_emulation_switch
  .type moe_emulation_switch, @function
moe_emulation_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size moe_emulation_switch, .-moe_emulation_switch
)");

namespace emu {
namespace {

constexpr size_t kStackBytes = size_t(256) << 10;
constexpr int kMultiprocessors = 2;  // few, so that grids sized by it loop over their work

struct Fiber {
  std::unique_ptr<char[]> stack;
  void *sp = nullptr;
  Thread thread{};
  bool done = false;
};

// A barrier of cooperative fibers: threads that have finished no longer count.
struct Barrier {
  unsigned generation = 0;
  int arrived = 0;
  int live = 0;

  void release_if_complete() {
    if (arrived > 0 && arrived == live) {
      arrived = 0;
      ++generation;
    }
  }
};

struct Warp {
  Barrier barrier;
  float slots[32];
};

// The block being run.
struct Block {
  std::vector<Fiber> fibers;
  Fiber *current = nullptr;
  void *scheduler = nullptr;
  Barrier barrier;
  std::vector<Warp> warps;
  void (*body)(void *) = nullptr;
  void *ctx = nullptr;
} block;

std::mutex launches;
cudaError_t last_error = cudaSuccess;

void yield() { moe_emulation_switch(&block.current->sp, block.scheduler); }

void wait(Barrier &b) {
  const unsigned generation = b.generation;
  ++b.arrived;
  b.release_if_complete();
  while (b.generation == generation) yield();
}

[[noreturn]] void entry() {
  Fiber *f = block.current;
  block.body(block.ctx);
  f->done = true;
  --block.barrier.live;
  block.barrier.release_if_complete();
  Warp &w = block.warps[size_t(f->thread.warp)];
  --w.barrier.live;
  w.barrier.release_if_complete();
  moe_emulation_switch(&f->sp, block.scheduler);
  std::abort();  // a finished fiber is never resumed
}

// A fresh stack whose first switch-in "returns" into entry() with the alignment of a call.
void *start(Fiber &f) {
  if (!f.stack) f.stack.reset(new char[kStackBytes]);
  auto top = reinterpret_cast<uintptr_t>(f.stack.get() + kStackBytes) & ~uintptr_t(15);
  void **sp = reinterpret_cast<void **>(top);
  *--sp = nullptr;  // entry's return address: it never returns
  *--sp = reinterpret_cast<void *>(&entry);
  for (int i = 0; i < 6; ++i) *--sp = nullptr;  // rbp, rbx, r12-r15
  return sp;
}

}  // namespace

Thread &self() { return block.current->thread; }

void sync_block() { wait(block.barrier); }

void sync_warp() { wait(block.warps[size_t(self().warp)].barrier); }

float exchange(float v, int src) {
  Warp &w = block.warps[size_t(self().warp)];
  w.slots[self().lane] = v;
  sync_warp();
  const float r = w.slots[src];
  sync_warp();
  return r;
}

void run(void (*body)(void *), void *ctx, dim3 grid, dim3 block_dim) {
  std::lock_guard<std::mutex> lock(launches);
  const int threads = int(block_dim.x * block_dim.y * block_dim.z);
  if (threads <= 0 || threads > 1024 || grid.x == 0 || grid.y == 0 || grid.z == 0) {
    last_error = cudaErrorInvalidValue;
    return;
  }
  if (block.fibers.size() < size_t(threads)) block.fibers.resize(size_t(threads));
  block.body = body;
  block.ctx = ctx;
  for (unsigned bz = 0; bz < grid.z; ++bz)
    for (unsigned by = 0; by < grid.y; ++by)
      for (unsigned bx = 0; bx < grid.x; ++bx) {
        const int warps = (threads + 31) / 32;
        block.warps.assign(size_t(warps), Warp{});
        block.barrier = Barrier{0, 0, threads};
        for (int w = 0; w < warps; ++w) block.warps[size_t(w)].barrier.live = std::min(32, threads - 32 * w);
        for (int t = 0; t < threads; ++t) {
          Fiber &f = block.fibers[size_t(t)];
          const unsigned x = unsigned(t) % block_dim.x, y = unsigned(t) / block_dim.x % block_dim.y,
                         z = unsigned(t) / (block_dim.x * block_dim.y);
          f.thread = Thread{{x, y, z}, {bx, by, bz}, block_dim, grid, t % 32, t / 32};
          f.done = false;
          f.sp = start(f);
        }
        for (int live = threads; live > 0;) {
          live = 0;
          for (int t = 0; t < threads; ++t) {
            Fiber &f = block.fibers[size_t(t)];
            if (f.done) continue;
            block.current = &f;
            moe_emulation_switch(&block.scheduler, f.sp);
            live += f.done ? 0 : 1;
          }
        }
        block.current = nullptr;
      }
}

}  // namespace emu

struct CUevent_st {
  std::chrono::steady_clock::time_point at;
};

cudaError_t cudaGetDeviceCount(int *count) {
  *count = 1;
  return cudaSuccess;
}

cudaError_t cudaSetDevice(int device) { return device == 0 ? cudaSuccess : cudaErrorInvalidDevice; }

cudaError_t cudaDeviceGetAttribute(int *value, cudaDeviceAttr attr, int device) {
  if (device != 0 || attr != cudaDevAttrMultiProcessorCount) return cudaErrorInvalidValue;
  *value = emu::kMultiprocessors;
  return cudaSuccess;
}

cudaError_t cudaGetLastError() {
  const cudaError_t e = emu::last_error;
  emu::last_error = cudaSuccess;
  return e;
}

const char *cudaGetErrorString(cudaError_t error) {
  switch (error) {
    case cudaSuccess: return "no error (emulated)";
    case cudaErrorMemoryAllocation: return "out of memory (emulated)";
    case cudaErrorInvalidDevice: return "invalid device ordinal (emulated)";
    default: return "invalid argument (emulated)";
  }
}

// Fresh device memory holds NaNs (all bits set), so a kernel that reads what nobody wrote shows it.
// Exactly the bytes asked for (malloc's alignment suffices), so a sanitizer sees any overrun.
cudaError_t cudaMalloc(void **ptr, size_t bytes) {
  *ptr = std::malloc(bytes ? bytes : 1);
  if (!*ptr) return cudaErrorMemoryAllocation;
  std::memset(*ptr, 0xff, bytes);
  return cudaSuccess;
}

cudaError_t cudaFree(void *ptr) {
  std::free(ptr);
  return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, cudaMemcpyKind, cudaStream_t) {
  std::memcpy(dst, src, bytes);
  return cudaSuccess;
}

cudaError_t cudaMemsetAsync(void *dst, int value, size_t bytes, cudaStream_t) {
  std::memset(dst, value, bytes);
  return cudaSuccess;
}

cudaError_t cudaStreamCreateWithFlags(cudaStream_t *stream, unsigned) {
  static int the_stream;
  *stream = reinterpret_cast<cudaStream_t>(&the_stream);
  return cudaSuccess;
}

cudaError_t cudaStreamDestroy(cudaStream_t) { return cudaSuccess; }
cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }

cudaError_t cudaEventCreate(cudaEvent_t *event) {
  *event = new CUevent_st;
  return cudaSuccess;
}

cudaError_t cudaEventDestroy(cudaEvent_t event) {
  delete event;
  return cudaSuccess;
}

cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t) {
  event->at = std::chrono::steady_clock::now();
  return cudaSuccess;
}

cudaError_t cudaEventSynchronize(cudaEvent_t) { return cudaSuccess; }

cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t start, cudaEvent_t stop) {
  *ms = std::chrono::duration<float, std::milli>(stop->at - start->at).count();
  return cudaSuccess;
}

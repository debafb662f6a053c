// Machine figures the kernel benchmark compares against: the AVX2 FMA peak (the instruction set the
// kernels use) and the sustained read bandwidth.
#include <immintrin.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <thread>
#include <vector>

#include "cpu/ops.h"

namespace moe {
namespace {

using Clock = std::chrono::steady_clock;

int resolve_threads(int threads) {
  if (threads > 0) return threads;
  const long online = sysconf(_SC_NPROCESSORS_ONLN);
  return online > 0 ? int(online) : 1;
}

// Runs body(worker) on `threads` threads started together; returns the seconds until all finished.
template <typename Body>
double run_together(int threads, Body body) {
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> pool;
  for (int w = 0; w < threads; ++w)
    pool.emplace_back([&, w] {
      ready.fetch_add(1);
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      body(w);
    });
  while (ready.load() < threads) std::this_thread::yield();
  const auto start = Clock::now();
  go.store(true, std::memory_order_release);
  for (auto &t : pool) t.join();
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// 12 independent accumulators hide the FMA latency (4 cycles) on two FMA ports. Returns the
// number of FMA instructions issued (8 lanes each).
__attribute__((noinline)) uint64_t fma_loop(double seconds, float *sink) {
  __m256 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm256_set1_ps(float(i) * 1e-3f);
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  const auto end = Clock::now() + std::chrono::duration<double>(seconds);
  uint64_t fmas = 0;
  do {
    for (int rep = 0; rep < 4096; ++rep)
      for (int i = 0; i < 12; ++i) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
    fmas += 4096 * 12;
  } while (Clock::now() < end);
  __m256 sum = acc[0];
  for (int i = 1; i < 12; ++i) sum = _mm256_add_ps(sum, acc[i]);
  *sink = _mm256_cvtss_f32(sum);
  return fmas;
}

// Sums the buffer with four independent vector accumulators; the compiler cannot elide the loads.
// Software prefetch runs ahead as in the kernels, so both are held to the same best case.
__attribute__((noinline)) float read_pass(const float *p, size_t n) {
  __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    _mm_prefetch(reinterpret_cast<const char *>(p + i) + 8192, _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char *>(p + i) + 8192 + 64, _MM_HINT_T0);
    s0 = _mm256_add_ps(s0, _mm256_load_ps(p + i));
    s1 = _mm256_add_ps(s1, _mm256_load_ps(p + i + 8));
    s2 = _mm256_add_ps(s2, _mm256_load_ps(p + i + 16));
    s3 = _mm256_add_ps(s3, _mm256_load_ps(p + i + 24));
  }
  float tail = 0.0f;
  for (; i < n; ++i) tail += p[i];
  return _mm256_cvtss_f32(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3))) + tail;
}

}  // namespace

// Both figures are the best of three trials of a third of `seconds` each: a peak is what the
// machine can do, and a trial that another process disturbed would understate it.
constexpr int kTrials = 3;

double bench_fma_peak_gflops(int threads, double seconds) {
  threads = resolve_threads(threads);
  std::vector<uint64_t> fmas(static_cast<size_t>(threads));
  std::vector<float> sink(static_cast<size_t>(threads));
  double best = 0.0;
  for (int trial = 0; trial < kTrials; ++trial) {
    const double elapsed =
        run_together(threads, [&](int w) { fmas[w] = fma_loop(seconds / kTrials, &sink[w]); });
    uint64_t total = 0;
    for (uint64_t f : fmas) total += f;
    best = std::max(best, double(total) * 8 * 2 / elapsed / 1e9);
  }
  return best;
}

double bench_read_bandwidth_gbs(size_t bytes, int threads, double seconds) {
  threads = resolve_threads(threads);
  const size_t n = std::max<size_t>(bytes / sizeof(float), size_t(threads) * 64) / 64 * 64;
  std::unique_ptr<float, decltype(&std::free)> buffer(
      static_cast<float *>(std::aligned_alloc(64, n * sizeof(float))), &std::free);
  if (!buffer) return 0.0;
  const size_t per_thread = n / size_t(threads) / 64 * 64;
  // Each thread first touches its own part, so pages are mapped before timing starts.
  std::vector<float> sink(static_cast<size_t>(threads));
  run_together(threads, [&](int w) {
    std::fill_n(buffer.get() + size_t(w) * per_thread, per_thread, 1.0f);
    sink[w] = read_pass(buffer.get() + size_t(w) * per_thread, per_thread);
  });
  // Whole passes, all threads together, until the trial's time has passed.
  double best = 0.0;
  for (int trial = 0; trial < kTrials; ++trial) {
    size_t passes = 0;
    double elapsed = 0.0;
    do {
      elapsed += run_together(threads, [&](int w) {
        sink[w] += read_pass(buffer.get() + size_t(w) * per_thread, per_thread);
      });
      ++passes;
    } while (elapsed < seconds / kTrials);
    best = std::max(best, double(passes) * double(per_thread * size_t(threads) * sizeof(float)) / elapsed / 1e9);
  }
  volatile float keep = sink[0];
  (void)keep;
  return best;
}

}  // namespace moe

// The grouped SwiGLU FFN: a gate/up pass writing silu(gate) * up, then a down pass.
#include <algorithm>
#include <chrono>
#include <random>
#include <vector>

#include "cpu/experts.h"

namespace moe {

void CpuExpertBank::ffn(const float *x, int rows, const int32_t *slot_ids, const int64_t *offsets, int groups,
                        float *y) {
  // Activations are padded to whole gate/up panels (8 neurons); the padding holds silu(0) * 0 = 0.
  const size_t ld_act = size_t(gate_up_layout_.panels) * 8;
  rt_.activations.reserve(size_t(rows) * ld_act * sizeof(float));
  float *act = rt_.activations.as<float>();

  parallel_gemm(rt_, offsets, groups, gate_up_layout_.panels, [&](int g, int r0, int m, int p0, int p1) {
    const int64_t row = offsets[g] + r0;
    return GemmItem{x + row * hidden(), size_t(hidden()), m, gate_up(slot_ids[g]), &gate_up_layout_,
                    p0, p1, Epilogue::kSwiGLU, act + row * ld_act, ld_act, 0};
  });
  parallel_gemm(rt_, offsets, groups, down_layout_.panels, [&](int g, int r0, int m, int p0, int p1) {
    const int64_t row = offsets[g] + r0;
    return GemmItem{act + row * ld_act, ld_act, m, down(slot_ids[g]), &down_layout_,
                    p0, p1, Epilogue::kStore, y + row * hidden(), size_t(hidden()), hidden()};
  });
}

double CpuExpertBank::bench_ffn(int rows, int groups, int iters) {
  std::vector<float> x(size_t(rows) * hidden()), y(x.size());
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (auto &v : x) v = dist(rng);
  std::vector<int32_t> slot_ids(static_cast<size_t>(groups));
  std::vector<int64_t> offsets(size_t(groups) + 1);
  for (int g = 0; g < groups; ++g) {
    slot_ids[g] = g;
    offsets[g + 1] = int64_t(rows) * (g + 1) / groups;
  }
  auto call = [&] { ffn(x.data(), rows, slot_ids.data(), offsets.data(), groups, y.data()); };
  call();
  std::vector<double> times;
  for (int i = 0; i < iters; ++i) {
    const auto start = std::chrono::steady_clock::now();
    call();
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::nth_element(times.begin(), times.begin() + times.size() / 2, times.end());
  return times[times.size() / 2];
}

}  // namespace moe

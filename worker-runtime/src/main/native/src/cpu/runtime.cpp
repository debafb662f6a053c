#include "cpu/runtime.h"

#include <algorithm>
#include <atomic>

namespace moe {

void parallel_gemm(CpuRuntime &rt, const int64_t *offsets, int groups, int panels, const ItemMaker &make) {
  struct Span {
    int g, r0, m;
  };
  std::vector<Span> spans;
  for (int g = 0; g < groups; ++g) {
    const int rows = int(offsets[g + 1] - offsets[g]);
    if (rows == 0) continue;
    const int row_panels = (rows + kMR - 1) / kMR;
    const int blocks = (rows + kMB - 1) / kMB;
    for (int b = 0, rp = 0; b < blocks; ++b) {
      const int rp_end = int(int64_t(row_panels) * (b + 1) / blocks);
      const int r0 = rp * kMR, r1 = std::min(rows, rp_end * kMR);
      spans.push_back({g, r0, r1 - r0});
      rp = rp_end;
    }
  }
  if (spans.empty()) return;
  const int threads = rt.pool.size();
  // Enough items for two per thread, but panel ranges no narrower than 4 panels (64 columns).
  const int wanted = 2 * threads;
  int splits = int(spans.size()) >= wanted ? 1 : (wanted + int(spans.size()) - 1) / int(spans.size());
  splits = std::max(1, std::min(splits, panels / 4));

  std::vector<GemmItem> items;
  for (const Span &s : spans)
    for (int j = 0; j < splits; ++j) {
      const int p0 = int(int64_t(panels) * j / splits), p1 = int(int64_t(panels) * (j + 1) / splits);
      if (p1 > p0) items.push_back(make(s.g, s.r0, s.m, p0, p1));
    }
  std::stable_sort(items.begin(), items.end(), [](const GemmItem &a, const GemmItem &b) {
    return int64_t(a.m) * (a.p1 - a.p0) > int64_t(b.m) * (b.p1 - b.p0);
  });

  std::atomic<size_t> next{0};
  rt.pool.run([&](int worker) {
    for (size_t i = next.fetch_add(1); i < items.size(); i = next.fetch_add(1))
      run_gemm_item(items[i], rt.scratch[worker]);
  });
}

}  // namespace moe

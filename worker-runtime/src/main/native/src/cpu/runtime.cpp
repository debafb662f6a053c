#include "cpu/runtime.h"

#include <atomic>

namespace moe {

int plan_row_blocks(CpuRuntime &rt, const int64_t *offsets, int groups) {
  rt.spans.clear();
  for (int g = 0; g < groups; ++g) {
    const int rows = int(offsets[g + 1] - offsets[g]);
    if (rows == 0) continue;
    const int row_panels = (rows + kMR - 1) / kMR;
    const int blocks = (rows + kMB - 1) / kMB;
    for (int b = 0, rp = 0; b < blocks; ++b) {
      const int rp_end = int(int64_t(row_panels) * (b + 1) / blocks);
      const int r0 = rp * kMR, r1 = std::min(rows, rp_end * kMR);
      rt.spans.push_back({g, r0, r1 - r0});
      rp = rp_end;
    }
  }
  const int spans = int(rt.spans.size()), wanted = 2 * rt.pool.size();
  return spans == 0 || spans >= wanted ? 1 : (wanted + spans - 1) / spans;
}

void run_items(CpuRuntime &rt) {
  std::vector<GemmItem> &items = rt.items;
  if (items.empty()) return;
  // (std::sort, unlike stable_sort, needs no temporary buffer; the order only schedules.)
  std::sort(items.begin(), items.end(), [](const GemmItem &a, const GemmItem &b) {
    return int64_t(a.m) * (a.p1 - a.p0) > int64_t(b.m) * (b.p1 - b.p0);
  });
  std::atomic<size_t> next{0};
  rt.pool.run([&](int worker) {
    for (size_t i = next.fetch_add(1); i < items.size(); i = next.fetch_add(1))
      run_gemm_item(items[i], rt.scratch[worker]);
  });
}

}  // namespace moe

// The CPU backend's execution state: its threads and their scratch memory.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "cpu/buffer.h"
#include "cpu/gemm.h"
#include "cpu/thread_pool.h"

namespace moe {

struct CpuRuntime {
  explicit CpuRuntime(int threads) : pool(threads), scratch(size_t(pool.size())) {}

  ThreadPool pool;
  std::vector<GemmScratch> scratch;  // one per worker
  MappedBuffer activations;          // the FFN's silu(gate) * up rows
  MappedBuffer packed_linear;        // moe_linear's weights, packed per call
};

// Builds the work item for group g's rows [r0, r0 + m) (relative to the group) and panels [p0, p1).
using ItemMaker = std::function<GemmItem(int g, int r0, int m, int p0, int p1)>;

// Runs a grouped GEMM over `panels` output panels: group g owns rows [offsets[g], offsets[g + 1]).
// Rows are cut into blocks of at most kMB (whole row panels, balanced); when that leaves too few
// items for the threads, panels are cut into ranges too, so a small batch still streams its weights
// on every core, each weight read once. Items are handed out largest first.
void parallel_gemm(CpuRuntime &rt, const int64_t *offsets, int groups, int panels, const ItemMaker &make);

}  // namespace moe

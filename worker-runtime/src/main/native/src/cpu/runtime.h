// The CPU backend's execution state: its threads and their scratch memory.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "cpu/buffer.h"
#include "cpu/gemm.h"
#include "cpu/thread_pool.h"

namespace moe {

struct CpuRuntime {
  explicit CpuRuntime(int threads) : pool(threads), scratch(size_t(pool.size())), worker(size_t(pool.size())) {}

  ThreadPool pool;
  std::vector<GemmScratch> scratch;  // one per worker
  std::vector<MappedBuffer> worker;  // one per worker: attention scores, RoPE tables
  MappedBuffer activations;          // the FFN's silu(gate) * up rows
  MappedBuffer packed_linear;        // moe_linear's weights, packed per call
  // Attention's intermediate rows, shared by every layer (one forward runs at a time).
  struct AttentionScratch {
    MappedBuffer proj, query, latent, mixed;  // see CpuAttention's forward passes
    std::vector<int32_t> row_seq, row_pos;    // each row's sequence and position
    std::vector<int64_t> offsets;             // groups of a multi-matrix GEMM
    struct Item {
      int row, head0, head1;  // heads [head0, head1) of one row, sharing their keys and values
    };
    std::vector<Item> items;
  } attention;
  // parallel_gemm's work lists, kept so that a call allocates nothing once they have grown.
  struct Span {
    int g, r0, m;
  };
  std::vector<Span> spans;
  std::vector<GemmItem> items;
};

// Cuts group g's rows [offsets[g], offsets[g + 1]) into blocks of at most kMB rows (whole row panels,
// balanced), into rt.spans; returns how many panel ranges each block is cut into so that a small
// batch still streams its weights on every core, each weight read once: enough items for two per
// thread, but ranges no narrower than 4 panels (64 columns).
int plan_row_blocks(CpuRuntime &rt, const int64_t *offsets, int groups);

// Hands rt.items out to the threads, largest first.
void run_items(CpuRuntime &rt);

// Runs a grouped GEMM: group g owns rows [offsets[g], offsets[g + 1]) (relative to the group, as
// make sees them) and panels_of(g) output panels; make(g, r0, m, p0, p1) builds the work item for
// the group's rows [r0, r0 + m) and panels [p0, p1). Groups may share rows of one input (offsets are
// then only a numbering) and may each have their own weights and outputs.
template <typename PanelsOf, typename Make>
void parallel_gemm(CpuRuntime &rt, const int64_t *offsets, int groups, PanelsOf panels_of, Make make) {
  const int wanted_splits = plan_row_blocks(rt, offsets, groups);
  rt.items.clear();
  for (const CpuRuntime::Span &s : rt.spans) {
    const int panels = panels_of(s.g);
    const int splits = std::max(1, std::min(wanted_splits, panels / 4));
    for (int j = 0; j < splits; ++j) {
      const int p0 = int(int64_t(panels) * j / splits), p1 = int(int64_t(panels) * (j + 1) / splits);
      if (p1 > p0) rt.items.push_back(make(s.g, s.r0, s.m, p0, p1));
    }
  }
  run_items(rt);
}

// The same with one panel count for every group.
template <typename Make>
void parallel_gemm(CpuRuntime &rt, const int64_t *offsets, int groups, int panels, Make make) {
  parallel_gemm(rt, offsets, groups, [panels](int) { return panels; }, make);
}

}  // namespace moe

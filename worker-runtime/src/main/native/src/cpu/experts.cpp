// Loading, exporting and hashing the CPU bank's slots: the packed layout in, the canonical out.
#include "cpu/experts.h"

#include <cstring>
#include <vector>

#include "cpu/ops.h"

namespace moe {

CpuExpertBank::CpuExpertBank(CpuRuntime &rt, int slots, int hidden, int inter, moe_dtype dtype)
    : ExpertBank(slots, hidden, inter, dtype),
      rt_(rt),
      gate_up_layout_{hidden, (inter + 7) / 8, dtype},
      down_layout_{inter, (hidden + kNR - 1) / kNR, dtype},
      slot_stride_(gate_up_layout_.bytes() + down_layout_.bytes()),
      storage_(size_t(slots) * slot_stride_) {}

void CpuExpertBank::panel_rows(int matrix, int panel, const void *const canonical[3], size_t elem,
                               const void *rows[kNR]) const {
  for (int lane = 0; lane < kNR; ++lane) {
    rows[lane] = nullptr;
    if (matrix == 0) {
      const int neuron = panel * 8 + lane % 8;
      if (neuron < inter())
        rows[lane] = static_cast<const char *>(canonical[lane < 8 ? 0 : 1]) + size_t(neuron) * hidden() * elem;
    } else {
      const int out = panel * kNR + lane;
      if (out < hidden()) rows[lane] = static_cast<const char *>(canonical[2]) + size_t(out) * inter() * elem;
    }
  }
}

void CpuExpertBank::load(int slot, const void *gate, const void *up, const void *down_w, moe_dtype src_dtype) {
  const void *const canonical[3] = {gate, up, down_w};
  const int total = gate_up_layout_.panels + down_layout_.panels;
  char *base = const_cast<char *>(gate_up(slot));
  rt_.pool.run([&](int worker) {
    for (int q = worker; q < total; q += rt_.pool.size()) {
      const bool is_down = q >= gate_up_layout_.panels;
      const int panel = is_down ? q - gate_up_layout_.panels : q;
      const void *rows[kNR];
      panel_rows(is_down, panel, canonical, dtype_size(src_dtype), rows);
      pack_panel(is_down ? down_layout_ : gate_up_layout_, is_down ? base + gate_up_layout_.bytes() : base, panel,
                 rows, src_dtype);
    }
  });
}

void CpuExpertBank::copy_slot(int slot, const ExpertBank &src, int src_slot) {
  // Same shape and dtype (api.cpp checks), so the same packed layout: the packed bytes as they are.
  const CpuExpertBank &from = static_cast<const CpuExpertBank &>(src);
  std::memcpy(storage_.as<char>() + size_t(slot) * slot_stride_, from.gate_up(src_slot), slot_stride_);
}

void CpuExpertBank::export_slot(int slot, void *dst) {
  const size_t elem = dtype_size(dtype()), matrix = matrix_elems() * elem;
  char *out = static_cast<char *>(dst);
  const void *const canonical[3] = {out, out + matrix, out + 2 * matrix};
  const int total = gate_up_layout_.panels + down_layout_.panels;
  rt_.pool.run([&](int worker) {
    for (int q = worker; q < total; q += rt_.pool.size()) {
      const bool is_down = q >= gate_up_layout_.panels;
      const int panel = is_down ? q - gate_up_layout_.panels : q;
      const void *rows[kNR];
      panel_rows(is_down, panel, canonical, elem, rows);
      unpack_panel(is_down ? down_layout_ : gate_up_layout_, is_down ? down(slot) : gate_up(slot), panel,
                   const_cast<void *const *>(rows));
    }
  });
}

// Hashes the canonical bytes in order, unpacking one panel's rows at a time: gate rows come from
// the low lanes of the gate/up panels, then up rows from the high lanes, then down.
uint64_t CpuExpertBank::checksum(int slot) {
  const size_t elem = dtype_size(dtype());
  const int k_max = std::max(hidden(), inter());
  std::vector<char> rows_buf(size_t(kNR) * k_max * elem);
  uint64_t state = kFnvOffset;
  for (int part = 0; part < 3; ++part) {
    const bool is_down = part == 2;
    const PanelLayout &layout = is_down ? down_layout_ : gate_up_layout_;
    const int lanes = is_down ? kNR : 8, first_lane = part == 1 ? 8 : 0, n = is_down ? hidden() : inter();
    const size_t row_bytes = size_t(layout.k) * elem;
    for (int panel = 0; panel < layout.panels; ++panel) {
      void *rows[kNR] = {};
      const int valid = std::min(lanes, n - panel * lanes);
      for (int l = 0; l < valid; ++l) rows[first_lane + l] = rows_buf.data() + size_t(l) * row_bytes;
      unpack_panel(layout, is_down ? down(slot) : gate_up(slot), panel, rows);
      state = fnv1a(rows_buf.data(), size_t(valid) * row_bytes, state);
    }
  }
  return state;
}

}  // namespace moe

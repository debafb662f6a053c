// Dense weight matrices packed once for the GEMM (moe_matrix, and the projections of attention).
#pragma once

#include <vector>

#include "cpu/buffer.h"
#include "cpu/gemm.h"
#include "cpu/runtime.h"
#include "internal.h"

namespace moe {

// `count` matrices [n, k] of one shape side by side (MLA's per-head blocks), each packed in panels
// (gemm.h).
struct PackedMatrix {
  PackedMatrix() = default;
  PackedMatrix(int n, int k, moe_dtype dtype, int count = 1);

  PanelLayout layout;
  int n = 0, count = 0;
  MappedBuffer data;

  bool empty() const { return count == 0; }
  const void *block(int i) const { return data.as<char>() + size_t(i) * layout.bytes(); }
  // Packs matrix i from w: row r (of n) at w + r * row_stride elements, k elements each, in src_dtype;
  // the panels are spread over the pool's threads.
  void pack(CpuRuntime &rt, int i, const void *w, moe_dtype src_dtype, size_t row_stride);

  // The work item of matrix i for rows [0, m) of a (row stride lda), panels [p0, p1), into c (row
  // stride ldc), adding bias [n] unless it is null.
  GemmItem item(int i, const float *a, size_t lda, int m, int p0, int p1, float *c, size_t ldc,
                const float *bias = nullptr) const {
    return GemmItem{a, lda, m, block(i), &layout, p0, p1, Epilogue::kStore, c, ldc, n, bias};
  }
};

// Packs panels of w [n, k] into `packed` of `layout` on the pool's threads (see PackedMatrix::pack).
void pack_rows(CpuRuntime &rt, const PanelLayout &layout, void *packed, int n, const void *w, moe_dtype src_dtype,
               size_t row_stride);

// y [rows, m.n] = x [rows, m.layout.k] @ w^T (+ bias [m.n] unless null), matrix 0 of m.
void multiply(CpuRuntime &rt, const PackedMatrix &m, const float *x, int rows, float *y, const float *bias);

class CpuMatrix final : public Matrix {
 public:
  CpuMatrix(CpuRuntime &rt, int out, int in, const void *w, moe_dtype src_dtype, moe_dtype dtype, const float *bias);
  void mul(const float *x, int rows, float *y) override {
    multiply(rt_, m_, x, rows, y, bias_.empty() ? nullptr : bias_.data());
  }

 private:
  CpuRuntime &rt_;
  PackedMatrix m_;
  std::vector<float> bias_;
};

}  // namespace moe

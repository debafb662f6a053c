#include "cpu/matrix.h"

namespace moe {

PackedMatrix::PackedMatrix(int n_, int k, moe_dtype dtype, int count_)
    : layout{k, (n_ + kNR - 1) / kNR, dtype}, n(n_), count(count_), data(size_t(count_) * layout.bytes()) {}

void PackedMatrix::pack(CpuRuntime &rt, int i, const void *w, moe_dtype src_dtype, size_t row_stride) {
  pack_rows(rt, layout, data.as<char>() + size_t(i) * layout.bytes(), n, w, src_dtype, row_stride);
}

void pack_rows(CpuRuntime &rt, const PanelLayout &layout, void *packed, int n, const void *w, moe_dtype src_dtype,
               size_t row_stride) {
  const size_t elem = dtype_size(src_dtype);
  rt.pool.run([&](int worker) {
    for (int p = worker; p < layout.panels; p += rt.pool.size()) {
      const void *src[kNR];
      for (int lane = 0; lane < kNR; ++lane) {
        const int r = p * kNR + lane;
        src[lane] = r < n ? static_cast<const char *>(w) + size_t(r) * row_stride * elem : nullptr;
      }
      pack_panel(layout, packed, p, src, src_dtype);
    }
  });
}

void multiply(CpuRuntime &rt, const PackedMatrix &m, const float *x, int rows, float *y, const float *bias) {
  const int64_t offsets[2] = {0, rows};
  const size_t k = size_t(m.layout.k);
  parallel_gemm(rt, offsets, 1, m.layout.panels, [&](int, int r0, int rows_, int p0, int p1) {
    return m.item(0, x + size_t(r0) * k, k, rows_, p0, p1, y + size_t(r0) * m.n, size_t(m.n), bias);
  });
}

CpuMatrix::CpuMatrix(CpuRuntime &rt, int out, int in, const void *w, moe_dtype src_dtype, moe_dtype dtype,
                     const float *bias)
    : Matrix(out, in, dtype), rt_(rt), m_(out, in, dtype) {
  m_.pack(rt, 0, w, src_dtype, size_t(in));
  if (bias) bias_.assign(bias, bias + out);
}

}  // namespace moe

// The CPU backend: a thread pool, packed expert banks, and moe_linear on the same GEMM.
#include "cpu/experts.h"
#include "cpu/runtime.h"
#include "internal.h"

namespace moe {
namespace {

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(int threads) : rt_(threads) {}

  moe_backend_kind kind() const override { return MOE_BACKEND_CPU; }
  int threads() const override { return rt_.pool.size(); }

  std::unique_ptr<ExpertBank> create_bank(int slots, int hidden, int inter, moe_dtype dtype) override {
    return std::make_unique<CpuExpertBank>(rt_, slots, hidden, inter, dtype);
  }

  // Router weights are small next to the experts, so packing them per call costs little.
  void linear(const float *x, int rows, int in, const void *w, moe_dtype w_dtype, int out, float *y) override {
    const PanelLayout layout{in, (out + kNR - 1) / kNR, w_dtype};
    rt_.packed_linear.reserve(layout.bytes());
    void *packed = rt_.packed_linear.data();
    const size_t elem = dtype_size(w_dtype);
    rt_.pool.run([&](int worker) {
      for (int p = worker; p < layout.panels; p += rt_.pool.size()) {
        const void *src[kNR];
        for (int lane = 0; lane < kNR; ++lane) {
          const int o = p * kNR + lane;
          src[lane] = o < out ? static_cast<const char *>(w) + size_t(o) * in * elem : nullptr;
        }
        pack_panel(layout, packed, p, src, w_dtype);
      }
    });
    const int64_t offsets[2] = {0, rows};
    parallel_gemm(rt_, offsets, 1, layout.panels, [&](int, int r0, int m, int p0, int p1) {
      return GemmItem{x + size_t(r0) * in, size_t(in), m, packed, &layout, p0, p1, Epilogue::kStore,
                      y + size_t(r0) * out, size_t(out), out};
    });
  }

 private:
  CpuRuntime rt_;
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(int threads) { return std::make_unique<CpuBackend>(threads); }

}  // namespace moe

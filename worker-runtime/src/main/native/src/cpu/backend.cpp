// The CPU backend: a thread pool, packed expert banks, dense matrices, attention over a host KV
// cache, and moe_linear on the same GEMM.
#include "cpu/attention.h"
#include "cpu/experts.h"
#include "cpu/matrix.h"
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
    pack_rows(rt_, layout, packed, out, w, w_dtype, size_t(in));
    const int64_t offsets[2] = {0, rows};
    parallel_gemm(rt_, offsets, 1, layout.panels, [&](int, int r0, int m, int p0, int p1) {
      return GemmItem{x + size_t(r0) * in, size_t(in), m, packed, &layout, p0, p1, Epilogue::kStore,
                      y + size_t(r0) * out, size_t(out), out};
    });
  }

  std::unique_ptr<Matrix> create_matrix(int out, int in, const void *w, moe_dtype src_dtype, moe_dtype dtype,
                                        const float *bias) override {
    return std::make_unique<CpuMatrix>(rt_, out, in, w, src_dtype, dtype, bias);
  }

  std::unique_ptr<Attention> create_attention(const moe_attention_config &config) override {
    return std::make_unique<CpuAttention>(rt_, config);
  }

  std::unique_ptr<KvCache> create_kv_cache(int layers, int blocks, int block_size, int width) override {
    return std::make_unique<CpuKvCache>(layers, blocks, block_size, width);
  }

 private:
  CpuRuntime rt_;
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(int threads) { return std::make_unique<CpuBackend>(threads); }

}  // namespace moe

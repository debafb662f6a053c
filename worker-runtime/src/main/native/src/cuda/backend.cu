// The CUDA backend: one device and stream per context, expert slots in device memory in the
// canonical layout, the FFN as two grouped GEMM launches (gate/up with the SwiGLU epilogue, then down);
// dense matrices, attention and the KV cache in matrix.cu and attention.cu.
#include <algorithm>
#include <vector>

#include "cpu/ops.h"
#include "cuda/gemm.h"
#include "cuda/runtime.h"

namespace moe {
namespace {

class CudaExpertBank final : public ExpertBank {
 public:
  CudaExpertBank(CudaRuntime &rt, int slots, int hidden, int inter, moe_dtype dtype)
      : ExpertBank(slots, hidden, inter, dtype), rt_(rt) {
    rt_.activate();
    storage_.reserve(size_t(slots) * slot_bytes());
    cuda_check(cudaMemsetAsync(storage_.as<void>(), 0, size_t(slots) * slot_bytes(), rt_.stream), "cudaMemsetAsync");
    rt_.sync();
  }

  void load(int slot, const void *gate, const void *up, const void *down, moe_dtype src_dtype) override {
    rt_.activate();
    const void *src[3] = {gate, up, down};
    const size_t matrix_bytes = matrix_elems() * dtype_size(dtype());
    std::vector<char> staging(matrix_bytes);
    for (int m = 0; m < 3; ++m) {
      convert(src[m], src_dtype, matrix_elems(), dtype(), staging.data());
      cuda_check(cudaMemcpyAsync(slot_ptr(slot) + m * matrix_bytes, staging.data(), matrix_bytes,
                                 cudaMemcpyHostToDevice, rt_.stream), "cudaMemcpyAsync (load)");
      rt_.sync();  // before the staging buffer is reused
    }
  }

  void copy_slot(int slot, const ExpertBank &src, int src_slot) override {
    rt_.activate();
    const CudaExpertBank &from = static_cast<const CudaExpertBank &>(src);
    cuda_check(cudaMemcpyAsync(slot_ptr(slot), from.slot_ptr(src_slot), slot_bytes(), cudaMemcpyDeviceToDevice,
                               rt_.stream), "cudaMemcpyAsync (copy slot)");
    rt_.sync();
  }

  void export_slot(int slot, void *dst) override {
    rt_.activate();
    cuda_check(cudaMemcpyAsync(dst, slot_ptr(slot), slot_bytes(), cudaMemcpyDeviceToHost, rt_.stream),
               "cudaMemcpyAsync (export)");
    rt_.sync();
  }

  // Hashes the bytes read back from the device, so it verifies what the device holds.
  uint64_t checksum(int slot) override {
    std::vector<char> bytes(slot_bytes());
    export_slot(slot, bytes.data());
    return fnv1a(bytes.data(), bytes.size());
  }

  void ffn(const float *x, int rows, const int32_t *slot_ids, const int64_t *offsets, int groups,
           float *y) override {
    rt_.activate();
    const std::vector<RowTile> tiles = make_row_tiles(offsets, slot_ids, groups);
    reserve(rows, tiles.size());
    cuda_check(cudaMemcpyAsync(rt_.tiles.as<void>(), tiles.data(), tiles.size() * sizeof(RowTile),
                               cudaMemcpyHostToDevice, rt_.stream), "cudaMemcpyAsync (tiles)");
    cuda_check(cudaMemcpyAsync(rt_.x.as<void>(), x, size_t(rows) * hidden() * sizeof(float), cudaMemcpyHostToDevice,
                               rt_.stream), "cudaMemcpyAsync (x)");
    run(rows, int(tiles.size()));
    cuda_check(cudaMemcpyAsync(y, rt_.y.as<void>(), size_t(rows) * hidden() * sizeof(float), cudaMemcpyDeviceToHost,
                               rt_.stream), "cudaMemcpyAsync (y)");
    rt_.sync();
  }

  double bench_ffn(int rows, int groups, int iters) override {
    rt_.activate();
    std::vector<int32_t> slot_ids(static_cast<size_t>(groups));
    std::vector<int64_t> offsets(size_t(groups) + 1);
    for (int g = 0; g < groups; ++g) {
      slot_ids[g] = g;
      offsets[g + 1] = int64_t(rows) * (g + 1) / groups;
    }
    const std::vector<RowTile> tiles = make_row_tiles(offsets.data(), slot_ids.data(), groups);
    reserve(rows, tiles.size());
    cuda_check(cudaMemcpyAsync(rt_.tiles.as<void>(), tiles.data(), tiles.size() * sizeof(RowTile),
                               cudaMemcpyHostToDevice, rt_.stream), "cudaMemcpyAsync (tiles)");
    std::vector<float> x(size_t(rows) * hidden());
    for (size_t i = 0; i < x.size(); ++i) x[i] = float(int(i % 17) - 8) / 8.0f;
    cuda_check(cudaMemcpyAsync(rt_.x.as<void>(), x.data(), x.size() * sizeof(float), cudaMemcpyHostToDevice, rt_.stream),
               "cudaMemcpyAsync (x)");
    rt_.sync();

    cudaEvent_t start, stop;
    cuda_check(cudaEventCreate(&start), "cudaEventCreate");
    cuda_check(cudaEventCreate(&stop), "cudaEventCreate");
    std::vector<double> times;
    for (int i = 0; i <= iters; ++i) {  // the first call warms up
      cuda_check(cudaEventRecord(start, rt_.stream), "cudaEventRecord");
      run(rows, int(tiles.size()));
      cuda_check(cudaEventRecord(stop, rt_.stream), "cudaEventRecord");
      cuda_check(cudaEventSynchronize(stop), "cudaEventSynchronize");
      float ms = 0;
      cuda_check(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime");
      if (i > 0) times.push_back(ms / 1e3);
    }
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
    std::nth_element(times.begin(), times.begin() + times.size() / 2, times.end());
    return times[times.size() / 2];
  }

 private:
  char *slot_ptr(int slot) const { return storage_.as<char>() + size_t(slot) * slot_bytes(); }

  void reserve(int rows, size_t tiles) {
    const size_t x_elems = size_t(rows) * hidden(), act_elems = size_t(rows) * inter();
    rt_.tiles.reserve(std::max<size_t>(1, tiles) * sizeof(RowTile));
    rt_.x.reserve(x_elems * sizeof(float));
    rt_.y.reserve(x_elems * sizeof(float));
    if (dtype() == MOE_BF16) {
      rt_.x_hi.reserve(x_elems * 2);
      rt_.x_lo.reserve(x_elems * 2);
      rt_.act_hi.reserve(act_elems * 2);
      rt_.act_lo.reserve(act_elems * 2);
    } else {
      rt_.act.reserve(act_elems * sizeof(float));
    }
  }

  // The two grouped GEMMs over device-resident x (rt_.x) into rt_.y.
  void run(int rows, int tile_count) {
    const RowTile *tiles = rt_.tiles.as<RowTile>();
    const size_t m = matrix_elems(), stride = 3 * m;
    const GemmShape gate_up{inter(), hidden(), storage_.as<void>(), stride, 0, m};
    const GemmShape down{hidden(), inter(), storage_.as<void>(), stride, 2 * m, 0};
    if (dtype() == MOE_BF16) {
      auto *x_hi = rt_.x_hi.as<__nv_bfloat16>(), *x_lo = rt_.x_lo.as<__nv_bfloat16>();
      auto *act_hi = rt_.act_hi.as<__nv_bfloat16>(), *act_lo = rt_.act_lo.as<__nv_bfloat16>();
      launch_split_bf16(rt_.x.as<float>(), size_t(rows) * hidden(), x_hi, x_lo, rt_.stream);
      launch_gemm_bf16(tiles, tile_count, gate_up, true, x_hi, x_lo, nullptr, act_hi, act_lo, rt_.stream);
      launch_gemm_bf16(tiles, tile_count, down, false, act_hi, act_lo, rt_.y.as<float>(), nullptr, nullptr, rt_.stream);
    } else {
      launch_gemm_f32(tiles, tile_count, gate_up, false, true, rt_.x.as<float>(), rt_.act.as<float>(), rt_.stream);
      launch_gemm_f32(tiles, tile_count, down, false, false, rt_.act.as<float>(), rt_.y.as<float>(), rt_.stream);
    }
  }

  CudaRuntime &rt_;
  DeviceBuffer storage_;
};

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(int device) {
    rt_.device = device;
    rt_.activate();
    cuda_check(cudaDeviceGetAttribute(&rt_.multiprocessors, cudaDevAttrMultiProcessorCount, device),
               "cudaDeviceGetAttribute");
    cuda_check(cudaStreamCreateWithFlags(&rt_.stream, cudaStreamNonBlocking), "cudaStreamCreate");
  }
  ~CudaBackend() override {
    cudaSetDevice(rt_.device);
    cudaStreamDestroy(rt_.stream);
  }

  moe_backend_kind kind() const override { return MOE_BACKEND_CUDA; }
  int threads() const override { return rt_.device; }

  std::unique_ptr<ExpertBank> create_bank(int slots, int hidden, int inter, moe_dtype dtype) override {
    return std::make_unique<CudaExpertBank>(rt_, slots, hidden, inter, dtype);
  }

  void linear(const float *x, int rows, int in, const void *w, moe_dtype w_dtype, int out, float *y) override {
    rt_.activate();
    const size_t w_bytes = size_t(out) * in * dtype_size(w_dtype);
    rt_.weights.reserve(w_bytes);
    rt_.x.reserve(size_t(rows) * in * sizeof(float));
    rt_.y.reserve(size_t(rows) * out * sizeof(float));
    rt_.upload(rt_.weights.as<void>(), w, w_bytes, "cudaMemcpyAsync (w)");
    rt_.upload(rt_.x.as<void>(), x, size_t(rows) * in * sizeof(float), "cudaMemcpyAsync (x)");
    const GemmShape shape{out, in, rt_.weights.as<void>(), 0, 0, 0};
    launch_gemm_dense(rows, 1, shape, w_dtype == MOE_BF16, rt_.x.as<float>(), rt_.y.as<float>(), rt_.stream);
    rt_.download(y, rt_.y.as<void>(), size_t(rows) * out * sizeof(float), "cudaMemcpyAsync (y)");
    rt_.sync();
  }

  std::unique_ptr<Matrix> create_matrix(int out, int in, const void *w, moe_dtype src_dtype, moe_dtype dtype,
                                        const float *bias) override {
    return make_cuda_matrix(rt_, out, in, w, src_dtype, dtype, bias);
  }
  std::unique_ptr<Attention> create_attention(const moe_attention_config &config) override {
    return make_cuda_attention(rt_, config);
  }
  std::unique_ptr<KvCache> create_kv_cache(int layers, int blocks, int block_size, int width) override {
    return make_cuda_kv_cache(rt_, layers, blocks, block_size, width);
  }

 private:
  CudaRuntime rt_;
};

}  // namespace

std::vector<RowTile> make_row_tiles(const int64_t *offsets, const int32_t *slot_ids, int groups) {
  std::vector<RowTile> tiles;
  for (int g = 0; g < groups; ++g)
    for (int64_t r = offsets[g]; r < offsets[g + 1]; r += kTileM)
      tiles.push_back({int(r), int(std::min<int64_t>(kTileM, offsets[g + 1] - r)), slot_ids[g]});
  return tiles;
}

std::unique_ptr<Backend> make_cuda_backend(int device) {
  const int count = cuda_device_count();
  if (count == 0) fail(MOE_ERR_UNSUPPORTED, "no CUDA device is visible");
  if (device < 0 || device >= count)
    fail(MOE_ERR_INVALID, "CUDA device " + std::to_string(device) + " does not exist (" + std::to_string(count) +
                              " visible)");
  return std::make_unique<CudaBackend>(device);
}

int cuda_device_count() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // no driver or no device: report none
    return 0;
  }
  return count;
}

const char *cuda_build_info() {
#ifdef MOE_CUDA_EMULATION
  return "cuda(emulated on the CPU)";
#else
  return "cuda(sm_90a)";
#endif
}

}  // namespace moe

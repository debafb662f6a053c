// Self-check of libmoe_runtime through its C API: kernels against double-precision references,
// routers and combine on hand-made cases, the canonical layout, routing statistics, dense layers and
// attention (dense_test.cpp, attention_test.cpp); the backend checks on every backend available.
#include <cstdlib>

#include "check.h"

namespace selftest {
namespace {

struct Expert {
  std::vector<float> gate, up, down;  // canonical, already representable in the bank's dtype
};

Expert random_expert(int hidden, int inter, bool bf16, std::mt19937 &rng) {
  Expert e{random_vector(size_t(inter) * hidden, rng, 0.1f), random_vector(size_t(inter) * hidden, rng, 0.1f),
           random_vector(size_t(hidden) * inter, rng, 0.1f)};
  if (bf16)
    for (auto *m : {&e.gate, &e.up, &e.down})
      for (auto &v : *m) v = from_bf16(to_bf16(v));
  return e;
}

// y = down(silu(gate x) * up x) in double.
std::vector<double> reference_ffn(const Expert &e, const float *x, int hidden, int inter) {
  std::vector<double> h(static_cast<size_t>(inter)), y(static_cast<size_t>(hidden));
  for (int i = 0; i < inter; ++i) {
    double g = 0, u = 0;
    for (int k = 0; k < hidden; ++k) {
      g += double(e.gate[size_t(i) * hidden + k]) * x[k];
      u += double(e.up[size_t(i) * hidden + k]) * x[k];
    }
    h[i] = g / (1 + std::exp(-g)) * u;
  }
  for (int o = 0; o < hidden; ++o) {
    double s = 0;
    for (int i = 0; i < inter; ++i) s += double(e.down[size_t(o) * inter + i]) * h[i];
    y[o] = s;
  }
  return y;
}

void load_expert(moe_experts *bank, int slot, const Expert &e, moe_dtype src) {
  if (src == MOE_F32) {
    check_ok(moe_experts_load(bank, slot, e.gate.data(), e.up.data(), e.down.data(), MOE_F32), "load f32");
    return;
  }
  std::vector<uint16_t> m[3];
  const std::vector<float> *from[3] = {&e.gate, &e.up, &e.down};
  for (int i = 0; i < 3; ++i)
    for (float v : *from[i]) m[i].push_back(to_bf16(v));
  check_ok(moe_experts_load(bank, slot, m[0].data(), m[1].data(), m[2].data(), MOE_BF16), "load bf16");
}

// A grouped FFN over `group_rows[g]` rows per group (slots in reverse order, some groups empty),
// compared row by row with the double reference.
void test_ffn(const Target &t, int hidden, int inter, moe_dtype dtype, moe_dtype src,
              const std::vector<int> &group_rows, double tolerance) {
  moe_ctx *ctx = t.ctx;
  const std::string what = "ffn hidden=" + std::to_string(hidden) + " inter=" + std::to_string(inter) +
                           (dtype == MOE_BF16 ? " bf16" : " f32") + (src == MOE_BF16 ? "<-bf16" : "<-f32");
  const std::string name = t.name + " " + what;
  std::mt19937 rng(hidden * 131 + inter);
  const int groups = int(group_rows.size()), slots = groups;
  moe_experts *bank = nullptr;
  check_ok(moe_experts_create(ctx, slots, hidden, inter, dtype, &bank), name + " create");
  std::vector<Expert> experts;
  for (int s = 0; s < slots; ++s) {
    experts.push_back(random_expert(hidden, inter, dtype == MOE_BF16 || src == MOE_BF16, rng));
    load_expert(bank, s, experts.back(), src);
  }
  std::vector<int32_t> slot_ids;
  std::vector<int64_t> offsets{0};
  for (int g = 0; g < groups; ++g) {
    slot_ids.push_back(slots - 1 - g);
    offsets.push_back(offsets.back() + group_rows[g]);
  }
  const int rows = int(offsets.back());
  const auto x = random_vector(size_t(rows) * hidden, rng, 1.0f);
  std::vector<float> y(size_t(rows) * hidden, NAN);
  check_ok(moe_experts_ffn(ctx, bank, x.data(), rows, slot_ids.data(), offsets.data(), groups, y.data()), name);
  double worst = 0;
  for (int g = 0; g < groups; ++g)
    for (int64_t r = offsets[g]; r < offsets[g + 1]; ++r) {
      const auto ref = reference_ffn(experts[slot_ids[g]], x.data() + r * hidden, hidden, inter);
      double scale = 1e-3;
      for (double v : ref) scale = std::max(scale, std::fabs(v));
      for (int o = 0; o < hidden; ++o)
        worst = worse(worst, std::fabs(y[r * hidden + o] - ref[o]) / scale);
    }
  check(worst < tolerance, name + ": relative error " + fmt(worst));
  against_cpu(t, what, y.data(), y.size(), dtype == MOE_BF16 ? t.bf16_tolerance : kSameArithmetic);
  moe_experts_free(bank);
}

void test_linear(const Target &t, int rows, int in, int out, moe_dtype dtype) {
  std::mt19937 rng(rows + in + out);
  auto x = random_vector(size_t(rows) * in, rng, 1.0f);
  auto w = random_vector(size_t(out) * in, rng, 0.1f);
  std::vector<uint16_t> wb;
  for (auto &v : w) {
    wb.push_back(to_bf16(v));
    if (dtype == MOE_BF16) v = from_bf16(wb.back());
  }
  std::vector<float> y(size_t(rows) * out, NAN);
  const void *wp = dtype == MOE_BF16 ? static_cast<const void *>(wb.data()) : w.data();
  const std::string what = "linear " + std::to_string(rows) + "x" + std::to_string(in) + "x" + std::to_string(out) +
                           (dtype == MOE_BF16 ? " bf16" : " f32");
  const std::string name = t.name + " " + what;
  check_ok(moe_linear(t.ctx, x.data(), rows, in, wp, dtype, out, y.data()), name);
  double worst = 0;
  for (int r = 0; r < rows; ++r)
    for (int o = 0; o < out; ++o) {
      double s = 0, a = 1e-3;
      for (int i = 0; i < in; ++i) {
        s += double(x[size_t(r) * in + i]) * w[size_t(o) * in + i];
        a += std::fabs(double(x[size_t(r) * in + i]) * w[size_t(o) * in + i]);
      }
      worst = worse(worst, std::fabs(y[size_t(r) * out + o] - s) / a);
    }
  check(worst < 1e-5, name + ": relative error " + fmt(worst));
  against_cpu(t, what, y.data(), y.size(), kSameArithmetic);
}

}  // namespace

void test_layout(const Target &t) {
  moe_ctx *ctx = t.ctx;
  const int hidden = 40, inter = 24;
  std::mt19937 rng(7);
  const Expert e = random_expert(hidden, inter, false, rng);
  const size_t elems = size_t(hidden) * inter;

  // f32 bank: export is the three matrices back, bit for bit; the checksum hashes those bytes.
  moe_experts *f32 = nullptr;
  check_ok(moe_experts_create(ctx, 3, hidden, inter, MOE_F32, &f32), "layout create f32");
  check(moe_experts_slot_bytes(f32) == 3 * elems * 4, "f32 slot bytes");
  load_expert(f32, 1, e, MOE_F32);
  std::vector<float> out(3 * elems);
  check_ok(moe_experts_export(f32, 1, out.data()), "export f32");
  check(std::memcmp(out.data(), e.gate.data(), elems * 4) == 0 &&
            std::memcmp(out.data() + elems, e.up.data(), elems * 4) == 0 &&
            std::memcmp(out.data() + 2 * elems, e.down.data(), elems * 4) == 0,
        "f32 export == loaded matrices");
  uint64_t sum = 0;
  check_ok(moe_experts_checksum(f32, 1, &sum), "checksum");
  check(sum == moe_checksum(out.data(), out.size() * 4), "checksum == moe_checksum(export)");
  // A new slot holds zeros.
  std::vector<float> zeros(3 * elems, 1.0f);
  check_ok(moe_experts_export(f32, 0, zeros.data()), "export empty slot");
  bool all_zero = true;
  for (float v : zeros) all_zero &= v == 0.0f;
  check(all_zero, "a new slot holds zeros");
  // Import into another slot: same bytes, same checksum.
  check_ok(moe_experts_import(f32, 2, out.data()), "import");
  std::vector<float> again(3 * elems);
  check_ok(moe_experts_export(f32, 2, again.data()), "export imported");
  check(again == out, "export/import round trip");
  uint64_t sum2 = 0;
  check_ok(moe_experts_checksum(f32, 2, &sum2), "checksum imported");
  check(sum2 == sum, "imported slot has the same checksum");

  // bf16 bank: loading f32 rounds to nearest even; the export is the bf16 bits.
  moe_experts *bf = nullptr;
  check_ok(moe_experts_create(ctx, 2, hidden, inter, MOE_BF16, &bf), "layout create bf16");
  check(moe_experts_slot_bytes(bf) == 3 * elems * 2, "bf16 slot bytes");
  load_expert(bf, 1, e, MOE_F32);
  std::vector<uint16_t> bits(3 * elems);
  check_ok(moe_experts_export(bf, 1, bits.data()), "export bf16");
  bool rounded = true;
  for (size_t i = 0; i < elems; ++i)
    rounded &= bits[i] == to_bf16(e.gate[i]) && bits[elems + i] == to_bf16(e.up[i]) &&
               bits[2 * elems + i] == to_bf16(e.down[i]);
  check(rounded, "bf16 bank stores round-to-nearest-even of f32 input");
  check_ok(moe_experts_checksum(bf, 1, &sum), "checksum bf16");
  check(sum == moe_checksum(bits.data(), bits.size() * 2), "bf16 checksum == moe_checksum(export)");
  check_ok(moe_experts_import(bf, 0, bits.data()), "import bf16");
  std::vector<uint16_t> bits2(3 * elems);
  check_ok(moe_experts_export(bf, 0, bits2.data()), "export bf16 imported");
  check(bits2 == bits, "bf16 export/import round trip");
  // A bf16 source into an f32 bank widens exactly.
  check_ok(moe_experts_load(f32, 0, bits.data(), bits.data() + elems, bits.data() + 2 * elems, MOE_BF16),
           "load bf16 into f32");
  check_ok(moe_experts_export(f32, 0, out.data()), "export widened");
  bool widened = true;
  for (size_t i = 0; i < 3 * elems; ++i) widened &= out[i] == from_bf16(bits[i]);
  check(widened, "bf16 source widens exactly into an f32 bank");

  // A slot copied between banks of one context: the same bytes, the same checksum, and it computes.
  moe_experts *copy = nullptr;
  check_ok(moe_experts_create(ctx, 2, hidden, inter, MOE_F32, &copy), "layout create copy");
  check_ok(moe_experts_copy(copy, 1, f32, 1), "copy slot");
  std::vector<float> copied(3 * elems);
  check_ok(moe_experts_export(copy, 1, copied.data()), "export copied");
  check(std::memcmp(copied.data(), again.data(), copied.size() * 4) == 0, "a copied slot exports the same bytes");
  uint64_t sum3 = 0;
  check_ok(moe_experts_checksum(copy, 1, &sum3), "checksum copied");
  check(sum3 == sum2, "a copied slot has the same checksum");
  std::vector<float> x(hidden, 0.5f), y1(hidden), y2(hidden);
  const int32_t slot1[1] = {1}, slot2[1] = {2};
  const int64_t one[2] = {0, 1};
  check_ok(moe_experts_ffn(ctx, copy, x.data(), 1, slot1, one, 1, y1.data()), "ffn of a copied slot");
  check_ok(moe_experts_ffn(ctx, f32, x.data(), 1, slot2, one, 1, y2.data()), "ffn of the original");
  check(y1 == y2, "a copied slot computes the original's bits");
  check(moe_experts_copy(copy, 0, bf, 0) == MOE_ERR_INVALID, "a copy between dtypes is rejected");
  check(std::strstr(moe_last_error(), "another shape or dtype") != nullptr, "copy error names the mismatch");
  moe_experts_free(copy);

  // Errors carry a status and a message.
  check(moe_experts_export(f32, 3, out.data()) == MOE_ERR_INVALID, "slot out of range is rejected");
  check(std::strstr(moe_last_error(), "slot 3") != nullptr, "error message names the slot");
  moe_experts_free(bf);
  moe_experts_free(f32);
}

void test_routers() {
  // Softmax top-2 with a tie between experts 1 and 2 and a smaller 3: ties go to the lower index.
  const float logits[2 * 4] = {0.0f, 2.0f, 2.0f, 1.0f, 3.0f, -1.0f, 0.5f, 3.0f};
  int32_t ids[4];
  float w[4];
  check_ok(moe_router_softmax_topk(logits, 2, 4, 2, 0, ids, w), "softmax topk");
  check(ids[0] == 1 && ids[1] == 2 && ids[2] == 0 && ids[3] == 3, "softmax topk ids, ties to lower index");
  const double z = 1 + 2 * std::exp(2.0) + std::exp(1.0);
  check(std::fabs(w[0] - std::exp(2.0) / z) < 1e-6 && std::fabs(w[1] - w[0]) < 1e-7, "softmax weights");
  check_ok(moe_router_softmax_topk(logits, 2, 4, 2, 1, ids, w), "softmax topk normalized");
  check(std::fabs(w[0] - 0.5f) < 1e-6 && std::fabs(w[2] - 0.5f) < 1e-6, "normalized weights");
  check(moe_router_softmax_topk(logits, 2, 4, 5, 1, ids, w) == MOE_ERR_INVALID, "k > experts is rejected");

  // DeepSeek: 8 experts in 4 groups of 2, keep 2 groups, choose 2. Scores c = sigmoid(l) + bias.
  // Expert 0 alone is the best, but group 0 = {0, 1} sums lower than groups 2 = {4, 5} and 3 = {6, 7},
  // so experts 0 and 1 are excluded; the winners are the best of groups 2 and 3.
  auto logit = [](double s) { return float(std::log(s / (1 - s))); };
  const float l[8] = {logit(0.95), logit(0.05), logit(0.3), logit(0.3),
                      logit(0.6),  logit(0.6),  logit(0.7), logit(0.55)};
  const float bias[8] = {0, 0, 0, 0, 0, 0, 0, 0.02f};
  int32_t gid[2];
  float gw[2];
  check_ok(moe_router_sigmoid_group_topk(l, bias, 1, 8, 4, 2, 2, 1, 2.5f, gid, gw), "group topk");
  // Groups: {0.95+0.05=1.0}, {0.6}, {1.2}, {0.7+0.57=1.27} -> keep groups 3 and 2. Then c: 7->0.57...
  // candidates 4 (0.6), 5 (0.6), 6 (0.7), 7 (0.57): top-2 = 6, then 4 (tie with 5 -> lower index).
  check(gid[0] == 6 && gid[1] == 4, "group-limited choice: " + std::to_string(gid[0]) + "," + std::to_string(gid[1]));
  // Weights are the sigmoid (without bias), normalized, times the scale.
  check(std::fabs(gw[0] - 2.5 * 0.7 / 1.3) < 1e-5 && std::fabs(gw[1] - 2.5 * 0.6 / 1.3) < 1e-5,
        "group topk weights");
  check_ok(moe_router_sigmoid_group_topk(l, bias, 1, 8, 4, 2, 2, 0, 1.0f, gid, gw), "group topk unnormalized");
  check(std::fabs(gw[0] - 0.7) < 1e-6 && std::fabs(gw[1] - 0.6) < 1e-6, "unnormalized weights are sigmoid");
  check(moe_router_sigmoid_group_topk(l, bias, 1, 8, 3, 2, 2, 1, 1.0f, gid, gw) == MOE_ERR_INVALID,
        "uneven groups are rejected");
}

void test_combine() {
  const float rows[3 * 2] = {1, 2, 10, 20, 100, 200};
  const int32_t row_of[2 * 2] = {2, 0, -1, 1};
  const float w[4] = {0.5f, 2.0f, 9.0f, 0.25f};
  float out[2 * 2] = {1, 1, 0, 0};
  check_ok(moe_combine(rows, row_of, w, 2, 2, 2, out), "combine");
  check(out[0] == 1 + 50 + 2 && out[1] == 1 + 100 + 4 && out[2] == 2.5f && out[3] == 5.0f, "combine values");
}

void test_stats() {
  moe_stats *s = nullptr;
  check_ok(moe_stats_create(3, 4, 2, 1, &s), "stats create");
  const int32_t l0[2 * 2] = {0, 1, 2, 3};
  const int32_t l1[2 * 2] = {1, 2, 3, 3};
  const int64_t keys[2] = {10, 11}, swapped[2] = {11, 10};
  check_ok(moe_stats_record(s, 0, l0, 2, keys), "record l0");
  check_ok(moe_stats_record(s, 1, l1, 2, swapped), "record l1");  // token 11 chose {1,2}, 10 chose {3,3}
  std::vector<int64_t> counts(3 * 4), trans(2 * 4 * 4);
  check_ok(moe_stats_snapshot(s, counts.data(), trans.data(), 0), "snapshot");
  check(counts[0] == 1 && counts[1] == 1 && counts[2] == 1 && counts[3] == 1, "layer 0 counts");
  check(counts[4 + 1] == 1 && counts[4 + 2] == 1 && counts[4 + 3] == 2, "layer 1 counts");
  // Token 10: {0,1} -> {3,3}; token 11: {2,3} -> {1,2}.
  int64_t total = 0;
  for (auto v : trans) total += v;
  check(total == 8 && trans[0 * 4 + 3] == 2 && trans[1 * 4 + 3] == 2 && trans[2 * 4 + 1] == 1 &&
            trans[2 * 4 + 2] == 1 && trans[3 * 4 + 1] == 1 && trans[3 * 4 + 2] == 1,
        "layer 0 -> 1 transitions");
  // A new step: layer 0 again, then layer 1 with a key that only the old step had: no pairing.
  const int64_t other[1] = {10};
  const int64_t fresh[1] = {99};
  check_ok(moe_stats_record(s, 0, l0, 1, fresh), "record step 2 l0");
  check_ok(moe_stats_record(s, 1, l1, 1, other), "record step 2 l1");
  check_ok(moe_stats_snapshot(s, counts.data(), trans.data(), 1), "snapshot reset");
  total = 0;
  for (auto v : trans) total += v;
  check(total == 8, "a new step forgets the previous step's tokens");
  check_ok(moe_stats_snapshot(s, counts.data(), nullptr, 0), "snapshot after reset");
  bool zero = true;
  for (auto v : counts) zero &= v == 0;
  check(zero, "reset clears counts");
  const int32_t bad[2] = {0, 4};
  check(moe_stats_record(s, 0, bad, 1, keys) == MOE_ERR_INVALID, "expert id out of range is rejected");
  moe_stats_free(s);

  // Sampling keeps about 1 in sample_every tokens' transitions, and counts every token.
  check_ok(moe_stats_create(2, 4, 1, 4, &s), "stats create sampled");
  std::vector<int32_t> ids(1000, 1);
  std::vector<int64_t> seq(1000);
  for (int i = 0; i < 1000; ++i) seq[i] = i;
  check_ok(moe_stats_record(s, 0, ids.data(), 1000, seq.data()), "sampled l0");
  check_ok(moe_stats_record(s, 1, ids.data(), 1000, seq.data()), "sampled l1");
  std::vector<int64_t> c2(8), t2(16);
  check_ok(moe_stats_snapshot(s, c2.data(), t2.data(), 0), "sampled snapshot");
  check(c2[1] == 1000 && c2[5] == 1000, "sampled counts are complete");
  check(t2[1 * 4 + 1] > 180 && t2[1 * 4 + 1] < 320, "about a quarter sampled: " + std::to_string(t2[5]));
  moe_stats_free(s);
}

void test_bench(const Target &t) {
  moe_ctx *ctx = t.ctx;
  check(moe_bench_fma_peak_gflops(1, 0.05) > 1.0, "fma peak");
  check(moe_bench_read_bandwidth_gbs(size_t(16) << 20, 1, 0.05) > 0.1, "read bandwidth");
  moe_experts *bank = nullptr;
  check_ok(moe_experts_create(ctx, 2, 64, 32, MOE_F32, &bank), "bench bank");
  double seconds = 0;
  check_ok(moe_bench_experts_ffn(ctx, bank, 10, 2, 3, &seconds), "bench ffn");
  check(seconds > 0, "bench ffn time");
  moe_experts_free(bank);
}

// Shapes cover: padding of partial panels, several K blocks, empty groups, single rows, and row
// counts that need several row blocks.
void test_kernels(const Target &t) {
  for (moe_dtype dtype : {MOE_F32, MOE_BF16}) {
    const double tolerance = dtype == MOE_BF16 ? t.bf16_tolerance : 2e-5;
    test_ffn(t, 40, 24, dtype, MOE_F32, {3, 0, 1, 7}, tolerance);
    test_ffn(t, 40, 24, dtype, MOE_BF16, {5}, tolerance);
    test_ffn(t, 600, 300, dtype, MOE_F32, {1, 2, 13, 0, 40}, tolerance);
    test_ffn(t, 272, 104, dtype, MOE_F32, {250, 9}, tolerance);
  }
  for (moe_dtype dtype : {MOE_F32, MOE_BF16}) {
    test_linear(t, 1, 64, 8, dtype);
    test_linear(t, 37, 300, 19, dtype);
  }
}

}  // namespace selftest

using namespace selftest;

namespace {

// Every check that a backend must pass, and what it came to.
void test_backend(const Target &t, bool full) {
  std::printf("checking the %s backend\n", t.name.c_str());
  const int checks0 = checks, failures0 = failures;
  test_kernels(t);
  test_dense(t);
  test_attention(t);
  if (full) {
    test_layout(t);
    test_bench(t);
    test_api_errors(t);
  }
  std::printf("backend %s: %d checks, %d failed\n", t.name.c_str(), checks - checks0, failures - failures0);
  if (!t.cpu) {
    const Tally &tally = tallies[t.name];
    std::printf("backend %s against the CPU backend: %d cases compared, %d bit-identical, max |difference| / "
                "max |CPU output| %s (asserted: %s for float32 arithmetic, %s for bf16 expert banks)\n",
                t.name.c_str(), tally.cases, tally.identical, fmt(tally.worst).c_str(), fmt(kSameArithmetic).c_str(),
                fmt(t.bf16_tolerance).c_str());
    if (!tally.different.empty()) std::printf("not bit-identical: %s\n", tally.different.c_str());
  }
}

}  // namespace

int main() {
  std::printf("%s\n", moe_build_info());
  // Which environment switches are on, so a log says what was required.
  for (const char *name : {"MOE_REQUIRE_CUDA", "MOE_EXPECT_CPU_BITS"})
    if (const char *v = std::getenv(name)) std::printf("%s=%s\n", name, v);
  for (int threads : {1, 2, 3}) {
    moe_ctx *ctx = nullptr;
    check_ok(moe_ctx_create(MOE_BACKEND_CPU, threads, &ctx), "ctx create");
    check(moe_ctx_threads(ctx) == threads && moe_ctx_kind(ctx) == MOE_BACKEND_CPU, "ctx properties");
    test_backend({ctx, "cpu(" + std::to_string(threads) + ")", 2e-5, true}, threads == 2);
    moe_ctx_free(ctx);
  }
  test_routers();
  test_combine();
  test_stats();
  test_rms_norm();

  // The same checks on the CUDA backend, and its outputs against the CPU backend's; MOE_REQUIRE_CUDA=1
  // makes a missing device a failure, so that a GPU check cannot pass on the CPU alone.
  const char *require = std::getenv("MOE_REQUIRE_CUDA"), *bits = std::getenv("MOE_EXPECT_CPU_BITS");
  const bool cuda_required = require && std::string(require) == "1";
  expect_cpu_bits = bits && std::string(bits) == "1";
  const int devices = moe_cuda_device_count();
  moe_ctx *cuda = nullptr;
  const moe_status s = moe_ctx_create(MOE_BACKEND_CUDA, 0, &cuda);
  if (devices == 0) {
    check(s == MOE_ERR_UNSUPPORTED && cuda == nullptr, "a CUDA context without a device fails clearly");
    check(!cuda_required, "MOE_REQUIRE_CUDA=1 but no CUDA device is usable (" + std::string(moe_build_info()) + ")");
    std::printf("no CUDA device: the CUDA backend was not checked%s\n", cuda_required ? " (but it is required)" : "");
  } else {
    std::printf("CUDA device 0 of %d\n", devices);
    check_ok(s, "CUDA ctx create");
    if (cuda) {
      check(moe_ctx_kind(cuda) == MOE_BACKEND_CUDA, "CUDA ctx kind");
      // bf16 expert banks run on tensor cores, which see activations as hi + lo bf16 halves: about 16
      // bits of mantissa.
      test_backend({cuda, "cuda:0", 1e-4, false}, true);
    }
  }
  moe_ctx_free(cuda);
  if (failures) {
    std::printf("%d of %d checks failed\n", failures, checks);
    return 1;
  }
  std::printf("all %d checks passed\n", checks);
  return 0;
}

// Dense matrices, RMSNorm, and the batch invariance of every GEMM-based kernel: a row's bits must not
// depend on how many rows share its call.
#include <algorithm>

#include "check.h"

namespace selftest {
namespace {

std::string dtype_name(moe_dtype d) { return d == MOE_BF16 ? "bf16" : "f32"; }

// A matrix [out, in] of random weights, representable in `dtype`; given to the library in `src`.
struct Weights {
  std::vector<float> w;
  std::vector<uint16_t> bits;
  moe_dtype src;
  const void *data() const { return src == MOE_BF16 ? static_cast<const void *>(bits.data()) : w.data(); }
};

Weights random_weights(int out, int in, moe_dtype src, moe_dtype dtype, std::mt19937 &rng) {
  Weights m{random_vector(size_t(out) * in, rng, 0.3f), {}, src};
  if (src == MOE_BF16 || dtype == MOE_BF16) round_to_bf16(m.w);
  m.bits = bf16_bits(m.w);
  return m;
}

// y = x W^T + b against a double reference, relative to sum |x_i w_i| + |b|.
void test_matrix(const Target &t, int rows, int out, int in, moe_dtype src, moe_dtype dtype, bool bias) {
  const std::string what = "matrix " + std::to_string(rows) + "x" + std::to_string(in) + "->" + std::to_string(out) +
                           " " + dtype_name(dtype) + "<-" + dtype_name(src) + (bias ? " +bias" : "");
  const std::string name = t.name + " " + what;
  std::mt19937 rng(rows * 7 + out * 3 + in);
  const Weights w = random_weights(out, in, src, dtype, rng);
  const auto b = random_vector(size_t(out), rng, 1.0f);
  const auto x = random_vector(size_t(rows) * in, rng, 1.0f);
  moe_matrix *m = nullptr;
  check_ok(moe_matrix_create(t.ctx, out, in, w.data(), src, dtype, bias ? b.data() : nullptr, &m), name + " create");
  if (!m) return;
  std::vector<float> y(size_t(rows) * out, NAN);
  check_ok(moe_matrix_mul(t.ctx, m, x.data(), rows, y.data()), name);
  double worst = 0;
  for (int r = 0; r < rows; ++r)
    for (int o = 0; o < out; ++o) {
      double s = bias ? b[o] : 0, scale = 1e-6 + (bias ? std::fabs(b[o]) : 0);
      for (int i = 0; i < in; ++i) {
        const double p = double(x[size_t(r) * in + i]) * w.w[size_t(o) * in + i];
        s += p;
        scale += std::fabs(p);
      }
      worst = worse(worst, std::fabs(y[size_t(r) * out + o] - s) / scale);
    }
  check(worst < 1e-5, name + ": relative error " + fmt(worst));
  against_cpu(t, what, y.data(), y.size(), kSameArithmetic);
  check_ok(moe_matrix_mul(t.ctx, m, nullptr, 0, nullptr), name + " with 0 rows");
  moe_matrix_free(m);
}

// Runs `compute` on all rows, then on every row alone and on runs of 2..7 rows, and checks that each
// row's bits are the same in all of them. compute(first_row, rows, y) writes rows [first, first+rows).
template <typename Compute>
void check_rows_invariant(const Target &t, const std::string &what, int rows, int width, double tolerance,
                          Compute compute) {
  const std::string name = t.name + " " + what;
  std::vector<float> all(size_t(rows) * width, NAN);
  compute(0, rows, all.data());
  bool same = true;
  std::vector<float> part(size_t(rows) * width);
  for (int n = 1; n <= 7; ++n)
    for (int r0 = 0; r0 + n <= rows; r0 += n == 1 ? 1 : 5) {
      std::fill(part.begin(), part.end(), NAN);
      compute(r0, n, part.data());
      same &= same_bits(part.data(), all.data() + size_t(r0) * width, size_t(n) * width);
    }
  bool finite = true;
  for (float v : all) finite &= std::isfinite(v);
  check(same && finite, name + ": rows computed alone or in small batches equal the same rows in a batch of " +
                            std::to_string(rows));
  against_cpu(t, what, all.data(), all.size(), tolerance);
}

void test_matrix_invariance(const Target &t, moe_dtype dtype) {
  // 600 = two full K blocks and a partial one; 37 rows = every micro-tile height.
  const int rows = 37, in = 600, out = 70;
  std::mt19937 rng(11);
  const Weights w = random_weights(out, in, dtype, dtype, rng);
  const auto b = random_vector(size_t(out), rng, 1.0f);
  const auto x = random_vector(size_t(rows) * in, rng, 1.0f);
  moe_matrix *m = nullptr;
  check_ok(moe_matrix_create(t.ctx, out, in, w.data(), dtype, dtype, b.data(), &m), "invariance matrix create");
  if (!m) return;
  check_rows_invariant(t, "matrix " + dtype_name(dtype) + " 37 rows", rows, out, kSameArithmetic,
                       [&](int r0, int n, float *y) {
    check_ok(moe_matrix_mul(t.ctx, m, x.data() + size_t(r0) * in, n, y), "matrix mul");
  });
  moe_matrix_free(m);
}

void test_linear_invariance(const Target &t, moe_dtype dtype) {
  const int rows = 37, in = 530, out = 40;
  std::mt19937 rng(12);
  const Weights w = random_weights(out, in, dtype, dtype, rng);
  const auto x = random_vector(size_t(rows) * in, rng, 1.0f);
  check_rows_invariant(t, "linear " + dtype_name(dtype) + " 37 rows", rows, out, kSameArithmetic,
                       [&](int r0, int n, float *y) {
    check_ok(moe_linear(t.ctx, x.data() + size_t(r0) * in, n, in, w.data(), dtype, out, y), "linear");
  });
}

void test_ffn_invariance(const Target &t, moe_dtype dtype) {
  const int rows = 37, hidden = 520, inter = 300;
  std::mt19937 rng(13);
  moe_experts *bank = nullptr;
  check_ok(moe_experts_create(t.ctx, 2, hidden, inter, dtype, &bank), "invariance bank create");
  if (!bank) return;
  for (int s = 0; s < 2; ++s) {
    const auto gate = random_vector(size_t(inter) * hidden, rng, 0.1f), up = random_vector(gate.size(), rng, 0.1f),
               down = random_vector(gate.size(), rng, 0.1f);
    check_ok(moe_experts_load(bank, s, gate.data(), up.data(), down.data(), MOE_F32), "invariance load");
  }
  const auto x = random_vector(size_t(rows) * hidden, rng, 1.0f);
  // All rows through slot 1 as one group, against the same rows in smaller calls; and a call whose
  // other group (slot 0) comes first must not change slot 1's rows either.
  check_rows_invariant(t, "ffn " + dtype_name(dtype) + " 37 rows", rows, hidden,
                       dtype == MOE_BF16 ? t.bf16_tolerance : kSameArithmetic, [&](int r0, int n, float *y) {
    const int32_t slot = 1;
    const int64_t offsets[2] = {0, n};
    check_ok(moe_experts_ffn(t.ctx, bank, x.data() + size_t(r0) * hidden, n, &slot, offsets, 1, y), "ffn");
  });
  std::vector<float> alone(size_t(3) * hidden), mixed(size_t(12) * hidden);
  const int32_t one = 1;
  const int64_t off1[2] = {0, 3};
  check_ok(moe_experts_ffn(t.ctx, bank, x.data() + 9 * size_t(hidden), 3, &one, off1, 1, alone.data()), "ffn alone");
  const int32_t both[2] = {0, 1};
  const int64_t off2[3] = {0, 9, 12};
  check_ok(moe_experts_ffn(t.ctx, bank, x.data(), 12, both, off2, 2, mixed.data()), "ffn two groups");
  check(same_bits(alone.data(), mixed.data() + 9 * size_t(hidden), alone.size()),
        t.name + " ffn " + dtype_name(dtype) + ": a group's rows are the same beside another group");
  moe_experts_free(bank);
}

}  // namespace

void test_dense(const Target &t) {
  for (moe_dtype dtype : {MOE_F32, MOE_BF16}) {
    test_matrix(t, 1, 8, 64, MOE_F32, dtype, false);
    test_matrix(t, 5, 19, 37, dtype, dtype, true);
    test_matrix(t, 13, 33, 300, MOE_BF16, dtype, true);
    test_matrix(t, 200, 40, 520, MOE_F32, dtype, true);
    test_matrix_invariance(t, dtype);
    test_linear_invariance(t, dtype);
    test_ffn_invariance(t, dtype);
  }
}

void test_rms_norm() {
  std::mt19937 rng(5);
  for (int dim : {1, 7, 37, 300}) {
    const int rows = 4;
    const auto x = random_vector(size_t(rows) * dim, rng, 2.0f), w = random_vector(size_t(dim), rng, 1.5f);
    const float eps = 1e-5f;
    std::vector<float> y(x.size(), NAN);
    check_ok(moe_rms_norm(x.data(), rows, dim, w.data(), eps, y.data()), "rms_norm");
    double worst = 0;
    bool exact = true;
    for (int r = 0; r < rows; ++r) {
      const float *xr = x.data() + size_t(r) * dim;
      double ss = 0;
      float ssf = 0;
      for (int i = 0; i < dim; ++i) {
        ss += double(xr[i]) * xr[i];
        ssf += xr[i] * xr[i];
      }
      const double inv = 1 / std::sqrt(ss / dim + eps);
      // The documented float32 arithmetic, step by step.
      const float invf = 1.0f / std::sqrt(ssf / float(dim) + eps);
      for (int i = 0; i < dim; ++i) {
        const float got = y[size_t(r) * dim + i];
        worst = worse(worst, std::fabs(got - xr[i] * inv * w[i]) / (std::fabs(xr[i] * inv * w[i]) + 1e-6));
        exact &= got == w[i] * (xr[i] * invf);
      }
    }
    check(worst < 1e-5, "rms_norm dim " + std::to_string(dim) + ": relative error " + fmt(worst));
    check(exact, "rms_norm dim " + std::to_string(dim) + " is the documented float32 arithmetic");
    std::vector<float> in_place = x;
    check_ok(moe_rms_norm(in_place.data(), rows, dim, w.data(), eps, in_place.data()), "rms_norm in place");
    check(in_place == y, "rms_norm in place equals out of place");
  }
  float v = 1, w = 1;
  check_fails(moe_rms_norm(&v, 1, 0, &w, 1e-6f, &v), MOE_ERR_INVALID, "dim must be > 0", "rms_norm dim 0");
  check_fails(moe_rms_norm(&v, 1, 1, nullptr, 1e-6f, &v), MOE_ERR_INVALID, "w is null", "rms_norm null weight");
  check_fails(moe_rms_norm(&v, 1, 1, &w, NAN, &v), MOE_ERR_INVALID, "eps is not finite", "rms_norm NaN eps");
  check_ok(moe_rms_norm(nullptr, 0, 4, nullptr, 1e-6f, nullptr), "rms_norm of 0 rows");
}

}  // namespace selftest

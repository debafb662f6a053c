// The self-check's shared helpers: failures are counted, not thrown, so one run reports them all.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "moe_runtime.h"

namespace selftest {

inline int failures = 0, checks = 0;

inline void check(bool ok, const std::string &what) {
  ++checks;
  if (!ok) {
    ++failures;
    std::printf("FAIL: %s\n", what.c_str());
  }
}

inline void check_ok(moe_status s, const std::string &what) {
  check(s == MOE_OK, what + " -> status " + std::to_string(int(s)) + ": " + moe_last_error());
}

// A call that must fail with `status` and a message containing `text`.
inline void check_fails(moe_status s, moe_status status, const std::string &text, const std::string &what) {
  const std::string message = moe_last_error();
  check(s == status && message.find(text) != std::string::npos,
        what + ": expected status " + std::to_string(int(status)) + " with \"" + text + "\", got " +
            std::to_string(int(s)) + " \"" + message + "\"");
}

// The larger error, NaN if either is (std::max(worst, NaN) would drop a NaN: a NaN must fail).
inline double worse(double worst, double err) {
  return std::isnan(worst) || std::isnan(err) ? NAN : std::max(worst, err);
}

inline std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

inline uint16_t to_bf16(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return uint16_t((b + 0x7fffu + ((b >> 16) & 1u)) >> 16);
}

inline float from_bf16(uint16_t h) {
  const uint32_t b = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}

inline std::vector<float> random_vector(size_t n, std::mt19937 &rng, float scale) {
  std::uniform_real_distribution<float> dist(-scale, scale);
  std::vector<float> v(n);
  for (auto &x : v) x = dist(rng);
  return v;
}

// Rounds every value to bf16 (so a bf16-stored copy holds exactly these values).
inline void round_to_bf16(std::vector<float> &v) {
  for (auto &x : v) x = from_bf16(to_bf16(x));
}

inline std::vector<uint16_t> bf16_bits(const std::vector<float> &v) {
  std::vector<uint16_t> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = to_bf16(v[i]);
  return out;
}

inline bool same_bits(const float *a, const float *b, size_t n) { return std::memcmp(a, b, n * sizeof(float)) == 0; }

// A backend under test: its context, a name for messages, and what its bf16 expert banks achieve
// (tensor cores see activations as hi + lo bf16 halves on CUDA).
struct Target {
  moe_ctx *ctx;
  std::string name;
  double bf16_tolerance;
  bool cpu;
};

// ---- Other backends against the CPU backend ---------------------------------------------------------

// Paths whose float32 arithmetic the CUDA kernels repeat in the CPU's order (dense matrices, attention,
// float32 expert banks, moe_linear): designed to be bit-identical; asserted within this much of the
// largest CPU output, and the bit-identical cases are counted (against_cpu).
constexpr double kSameArithmetic = 1e-5;
// MOE_EXPECT_CPU_BITS=1: those paths must also be bit-identical (set where the kernels' order has been
// shown to hold: the CUDA emulation's test, and gpu-check).
inline bool expect_cpu_bits = false;

// The first CPU target's outputs of each case, by a name without the target's.
inline std::map<std::string, std::vector<float>> cpu_outputs;

struct Tally {
  int cases = 0, identical = 0;
  double worst = 0;            // max |difference| / max |CPU output|
  std::string different;       // the cases that are not bit-identical
};
inline std::map<std::string, Tally> tallies;  // by target

// Case `key`'s outputs on target t. The first CPU target records them; later CPU targets (other thread
// counts) must give the same bits; another backend must be within tolerance x max |CPU output| of them,
// elementwise (a NaN anywhere fails), and counts whether it is bit-identical.
inline void against_cpu(const Target &t, const std::string &key, const float *v, size_t n, double tolerance) {
  const auto it = cpu_outputs.find(key);
  if (t.cpu) {
    if (it == cpu_outputs.end())
      cpu_outputs.emplace(key, std::vector<float>(v, v + n));
    else
      check(it->second.size() == n && same_bits(it->second.data(), v, n),
            t.name + " " + key + ": the same bits with any number of threads");
    return;
  }
  if (it == cpu_outputs.end() || it->second.size() != n) {
    check(false, t.name + " " + key + ": no CPU output of the same size to compare with");
    return;
  }
  const std::vector<float> &cpu = it->second;
  double scale = 0, err = 0;
  for (size_t i = 0; i < n; ++i) {
    scale = worse(scale, std::fabs(double(cpu[i])));
    err = worse(err, std::fabs(double(v[i]) - cpu[i]));
  }
  Tally &tally = tallies[t.name];
  ++tally.cases;
  if (same_bits(cpu.data(), v, n))
    ++tally.identical;
  else
    tally.different += (tally.different.empty() ? "" : "; ") + key;
  tally.worst = worse(tally.worst, err / std::max(scale, 1e-30));
  check(err <= tolerance * std::max(scale, 1e-6), t.name + " " + key + " against the CPU backend: max |difference| " +
                                                      fmt(err) + " > " + fmt(tolerance) + " x max |CPU output| " +
                                                      fmt(scale));
  if (expect_cpu_bits && tolerance == kSameArithmetic)
    check(same_bits(cpu.data(), v, n), t.name + " " + key + ": not the CPU backend's bits (MOE_EXPECT_CPU_BITS=1), max "
                                                            "|difference| " + fmt(err));
}

// The checks every backend runs.
void test_kernels(const Target &t);
void test_layout(const Target &t);
void test_bench(const Target &t);
void test_dense(const Target &t);
void test_attention(const Target &t);
// Backend-independent host functions.
void test_routers();
void test_combine();
void test_stats();
void test_rms_norm();
void test_api_errors(const Target &t);

}  // namespace selftest

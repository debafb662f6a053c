// The self-check's shared helpers: failures are counted, not thrown, so one run reports them all.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "moe_runtime.h"

namespace selftest {

inline int failures = 0;

inline void check(bool ok, const std::string &what) {
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

// A backend under test: its context, a name for messages, and what its bf16 path achieves.
struct Target {
  moe_ctx *ctx;
  std::string name;
  double bf16_tolerance;
  bool cpu;
};

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

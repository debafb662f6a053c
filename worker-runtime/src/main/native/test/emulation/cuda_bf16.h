// bfloat16 for the CUDA emulation (see cuda_runtime.h beside this): the conversions the kernels use.
#pragma once

#include <cstdint>
#include <cstring>

#include "cuda_runtime.h"

struct __nv_bfloat16 {
  uint16_t bits;
};

inline float __bfloat162float(__nv_bfloat16 v) {
  const uint32_t b = uint32_t(v.bits) << 16;
  float f;
  std::memcpy(&f, &b, sizeof f);
  return f;
}

// Round to nearest even; a NaN stays a (quiet) NaN.
inline __nv_bfloat16 __float2bfloat16_rn(float f) {
  uint32_t b;
  std::memcpy(&b, &f, sizeof b);
  if ((b & 0x7fffffffu) > 0x7f800000u) return {uint16_t((b >> 16) | 0x40u)};
  return {uint16_t((b + 0x7fffu + ((b >> 16) & 1u)) >> 16)};
}

inline __nv_bfloat16 __float2bfloat16(float f) { return __float2bfloat16_rn(f); }

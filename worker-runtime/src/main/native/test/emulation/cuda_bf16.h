// bfloat16 for the CUDA emulation (see cuda_runtime.h beside this): the conversions the kernels use.
#pragma once

#include <cstdint>

#include "cpu/bf16.h"
#include "cuda_runtime.h"

struct __nv_bfloat16 {
  uint16_t bits;
};

// The CPU backend's conversions (src/cpu/bf16.h): round to nearest even, a NaN stays a NaN.
inline float __bfloat162float(__nv_bfloat16 v) { return moe::bf16_to_f32(v.bits); }
inline __nv_bfloat16 __float2bfloat16_rn(float f) { return {moe::f32_to_bf16(f)}; }
inline __nv_bfloat16 __float2bfloat16(float f) { return __float2bfloat16_rn(f); }

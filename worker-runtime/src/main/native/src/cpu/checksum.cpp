#include "cpu/ops.h"

namespace moe {

uint64_t fnv1a(const void *bytes, size_t n, uint64_t state) {
  const unsigned char *p = static_cast<const unsigned char *>(bytes);
  for (size_t i = 0; i < n; ++i) {
    state ^= p[i];
    state *= 0x100000001b3ull;
  }
  return state;
}

}  // namespace moe

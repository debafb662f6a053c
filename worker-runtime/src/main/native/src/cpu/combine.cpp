#include "cpu/ops.h"

#include <vector>

namespace moe {

void combine(const float *rows, const int32_t *row_of, const float *weights, int tokens, int k, int hidden,
             float *out) {
  // The k contributions are summed first, in order j = 0..k-1, then added to out: the result does
  // not depend on how many tokens or which threads share the work.
  std::vector<float> acc(static_cast<size_t>(hidden));
  for (int t = 0; t < tokens; ++t) {
    std::fill(acc.begin(), acc.end(), 0.0f);
    for (int j = 0; j < k; ++j) {
      const int32_t r = row_of[size_t(t) * k + j];
      if (r < 0) continue;
      const float w = weights[size_t(t) * k + j];
      const float *row = rows + size_t(r) * hidden;
      for (int h = 0; h < hidden; ++h) acc[h] += w * row[h];
    }
    float *o = out + size_t(t) * hidden;
    for (int h = 0; h < hidden; ++h) o[h] += acc[h];
  }
}

}  // namespace moe

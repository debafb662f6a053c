#include <cmath>

#include "cpu/ops.h"

namespace moe {

void rms_norm_row(const float *x, int dim, const float *w, float eps, float *y) {
  float ss = 0.0f;
  for (int i = 0; i < dim; ++i) ss += x[i] * x[i];
  const float r = 1.0f / std::sqrt(ss / float(dim) + eps);
  for (int i = 0; i < dim; ++i) y[i] = w[i] * (x[i] * r);
}

}  // namespace moe

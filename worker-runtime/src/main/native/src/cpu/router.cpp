#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "cpu/ops.h"

namespace moe {
namespace {

// Indices of the k largest scores, largest first, ties to the lower index. Candidates with
// keep[i] == false are never chosen.
void top_k(const float *score, int n, int k, const std::vector<char> *keep, std::vector<int> &order,
           int32_t *out) {
  order.clear();
  for (int i = 0; i < n; ++i)
    if (!keep || (*keep)[i]) order.push_back(i);
  std::partial_sort(order.begin(), order.begin() + k, order.end(), [score](int a, int b) {
    return score[a] > score[b] || (score[a] == score[b] && a < b);
  });
  std::copy(order.begin(), order.begin() + k, out);
}

}  // namespace

void router_softmax_topk(const float *logits, int tokens, int experts, int k, bool normalize, int32_t *ids,
                         float *weights) {
  std::vector<float> p(static_cast<size_t>(experts));
  std::vector<int> order;
  for (int t = 0; t < tokens; ++t) {
    const float *l = logits + size_t(t) * experts;
    const float max = *std::max_element(l, l + experts);
    float sum = 0.0f;
    for (int e = 0; e < experts; ++e) sum += (p[e] = std::exp(l[e] - max));
    for (int e = 0; e < experts; ++e) p[e] /= sum;
    int32_t *id = ids + size_t(t) * k;
    float *w = weights + size_t(t) * k;
    top_k(p.data(), experts, k, nullptr, order, id);
    float chosen = 0.0f;
    for (int j = 0; j < k; ++j) chosen += (w[j] = p[id[j]]);
    if (normalize)
      for (int j = 0; j < k; ++j) w[j] /= chosen;
  }
}

void router_sigmoid_group_topk(const float *logits, const float *bias, int tokens, int experts, int n_group,
                               int topk_group, int k, bool normalize, float scale, int32_t *ids,
                               float *weights) {
  const int per_group = experts / n_group;
  std::vector<float> s(static_cast<size_t>(experts)), c(static_cast<size_t>(experts));
  std::vector<float> group_score(static_cast<size_t>(n_group));
  std::vector<int32_t> best_groups(static_cast<size_t>(topk_group));
  std::vector<char> keep(static_cast<size_t>(experts));
  std::vector<int> order;
  for (int t = 0; t < tokens; ++t) {
    const float *l = logits + size_t(t) * experts;
    for (int e = 0; e < experts; ++e) {
      s[e] = 1.0f / (1.0f + std::exp(-l[e]));
      c[e] = s[e] + bias[e];
    }
    for (int g = 0; g < n_group; ++g) {
      const float *cg = c.data() + size_t(g) * per_group;
      float first = -INFINITY, second = -INFINITY;
      for (int i = 0; i < per_group; ++i) {
        if (cg[i] > first) {
          second = first;
          first = cg[i];
        } else if (cg[i] > second) {
          second = cg[i];
        }
      }
      group_score[g] = first + second;
    }
    top_k(group_score.data(), n_group, topk_group, nullptr, order, best_groups.data());
    std::fill(keep.begin(), keep.end(), 0);
    for (int32_t g : best_groups) std::fill_n(keep.begin() + size_t(g) * per_group, per_group, 1);
    int32_t *id = ids + size_t(t) * k;
    float *w = weights + size_t(t) * k;
    top_k(c.data(), experts, k, &keep, order, id);
    float chosen = 0.0f;
    for (int j = 0; j < k; ++j) chosen += (w[j] = s[id[j]]);
    for (int j = 0; j < k; ++j) w[j] = (normalize ? w[j] / (chosen + 1e-20f) : w[j]) * scale;
  }
}

}  // namespace moe

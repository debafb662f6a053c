#include "cpu/stats.h"

#include <algorithm>
#include <cstring>

namespace moe {

RoutingStats::RoutingStats(int layers, int experts, int k, int sample_every)
    : layers_(layers),
      experts_(experts),
      k_(k),
      sample_every_(sample_every),
      counts_(size_t(layers) * experts),
      transitions_(size_t(layers - 1) * experts * experts),
      pending_(size_t(layers - 1)),
      next_layer_seen_(size_t(layers - 1)) {}

// splitmix64's finaliser: every worker samples the same tokens whatever the key's structure (for
// example sequential positions).
bool RoutingStats::sampled(int64_t key) const {
  uint64_t z = uint64_t(key) + 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  return z % uint64_t(sample_every_) == 0;
}

void RoutingStats::record(int layer, const int32_t *ids, int tokens, const int64_t *keys) {
  int64_t *count = counts_.data() + size_t(layer) * experts_;
  for (size_t i = 0; i < size_t(tokens) * k_; ++i) ++count[ids[i]];

  if (layer > 0) {
    next_layer_seen_[layer - 1] = 1;
    const auto &previous = pending_[layer - 1];
    int64_t *trans = transitions_.data() + size_t(layer - 1) * experts_ * experts_;
    for (int t = 0; t < tokens; ++t) {
      if (!sampled(keys[t])) continue;
      const auto it = previous.find(keys[t]);
      if (it == previous.end()) continue;
      const int32_t *now = ids + size_t(t) * k_;
      for (int32_t from : it->second)
        for (int j = 0; j < k_; ++j) ++trans[size_t(from) * experts_ + now[j]];
    }
  }
  if (layer < layers_ - 1) {
    auto &mine = pending_[layer];
    if (next_layer_seen_[layer]) {
      mine.clear();
      next_layer_seen_[layer] = 0;
    }
    for (int t = 0; t < tokens; ++t)
      if (sampled(keys[t])) mine[keys[t]].assign(ids + size_t(t) * k_, ids + size_t(t + 1) * k_);
  }
}

void RoutingStats::snapshot(int64_t *counts, int64_t *transitions, bool reset) {
  std::memcpy(counts, counts_.data(), counts_.size() * sizeof(int64_t));
  if (transitions) std::memcpy(transitions, transitions_.data(), transitions_.size() * sizeof(int64_t));
  if (reset) {
    std::fill(counts_.begin(), counts_.end(), 0);
    std::fill(transitions_.begin(), transitions_.end(), 0);
  }
}

}  // namespace moe

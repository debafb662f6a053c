// Routing statistics: per-(layer, expert) counts and sampled layer-to-layer transitions.
#pragma once

#include <cstdint>
#include <unordered_map>
#include <vector>

namespace moe {

class RoutingStats {
 public:
  RoutingStats(int layers, int experts, int k, int sample_every);

  int layers() const { return layers_; }
  int experts() const { return experts_; }
  int k() const { return k_; }

  // ids: [tokens, k], each in [0, experts) (checked by the caller).
  void record(int layer, const int32_t *ids, int tokens, const int64_t *keys);
  void snapshot(int64_t *counts, int64_t *transitions, bool reset);

 private:
  bool sampled(int64_t key) const;

  int layers_, experts_, k_, sample_every_;
  std::vector<int64_t> counts_;       // [layers, experts]
  std::vector<int64_t> transitions_;  // [layers - 1, experts, experts]
  // The sampled tokens' choices at each layer (except the last), by key, for pairing with the next
  // layer's record. Layer l's map is emptied by its first record after a record of layer l + 1, so
  // it holds one step's tokens (all of its micro-batches) and no more.
  std::vector<std::unordered_map<int64_t, std::vector<int32_t>>> pending_;
  std::vector<char> next_layer_seen_;
};

}  // namespace moe

struct moe_stats {
  moe::RoutingStats impl;
};

package dev.moe.placement.baseline;

import dev.moe.placement.ClusterSpec;
import dev.moe.placement.colocation.ColocationObjective;
import java.time.Duration;

/**
 * MoETuner's expert placement (Go and Mahajan 2025, "MoETuner: Optimized Mixture of Expert Serving
 * with Balanced Expert Placement and Token Routing"): an integer program over token load and
 * communication that uses the routing dependency between consecutive layers.
 *
 * <p>Formulation implemented ({@link dev.moe.placement.colocation.ColocationModel}), one joint
 * program rather than the paper's two stages (experts clustered per layer, then clusters mapped to
 * GPUs): a boolean per (layer, replica, GPU), each GPU exactly its slot count per layer; minimize,
 * summed over the layers the transitions link, the max GPU load plus the transitions between the
 * layers that leave their GPU divided by the GPU count (both in tokens per GPU). Replicas beyond one
 * per expert are EPLB's, with equal shares, as MoETuner places each expert once.
 */
public final class MoETunerPlacer extends ColocationBaseline {

  public MoETunerPlacer(Duration timeLimit, int threads) {
    super(timeLimit, threads);
  }

  @Override
  ColocationObjective objective(ClusterSpec cluster) {
    return ColocationObjective.loadPlusCrossingPerGpu(cluster.gpus());
  }
}

package dev.moe.placement.baseline;

import dev.moe.placement.ClusterSpec;
import dev.moe.placement.colocation.ColocationObjective;
import java.time.Duration;

/**
 * ExFlow's expert placement (Yao et al. 2024, "Exploiting Inter-Layer Expert Affinity for
 * Accelerating Mixture-of-Experts Model Inference"): an integer program that puts the experts of
 * consecutive layers on GPUs so that as many token transitions as possible stay on one GPU, with
 * every GPU holding the same number of experts per layer, and no term for load.
 *
 * <p>Formulation implemented ({@link dev.moe.placement.colocation.ColocationModel}): a boolean per
 * (layer, replica, GPU), each replica on one GPU, each GPU exactly its slot count per layer;
 * maximize the transitions of every recorded layer pair whose two experts share a GPU. ExFlow
 * places each expert once; where the cluster has more slots than experts, the extra slots hold the
 * replicas EPLB's {@code replicate_experts} picks, with equal shares, and no two replicas of an
 * expert share a GPU.
 */
public final class ExFlowPlacer extends ColocationBaseline {

  public ExFlowPlacer(Duration timeLimit, int threads) {
    super(timeLimit, threads);
  }

  @Override
  ColocationObjective objective(ClusterSpec cluster) {
    return ColocationObjective.keepTransitions();
  }
}

package dev.moe.placement.baseline;

import dev.moe.placement.ClusterSpec;
import dev.moe.placement.Placement;
import dev.moe.placement.Placer;
import dev.moe.placement.colocation.Colocation;
import dev.moe.placement.colocation.ColocationObjective;
import dev.moe.stats.RoutingStats;
import java.time.Duration;

/**
 * ExFlow's expert placement (Yao et al. 2024, "Exploiting Inter-Layer Expert Affinity for
 * Accelerating Mixture-of-Experts Model Inference"): an integer program that puts the experts of
 * consecutive layers on GPUs so that as many token transitions as possible stay on one GPU, with
 * every GPU holding the same number of experts per layer, and no term for load.
 *
 * <p>Formulation implemented (ColocationModel, solved by CP-SAT under the given time limit): a
 * boolean per (layer, replica, GPU), each replica on one GPU, each GPU exactly its slot count per
 * layer; maximize the transition counts of every recorded layer pair whose two experts share a GPU.
 * ExFlow places each expert once; where the cluster has more slots than experts, the extra slots hold
 * the replicas EPLB's {@code replicate_experts} picks, with equal shares (EPLB's plan is the hint), and
 * no two replicas of an expert share a GPU. Layers no transition names keep EPLB's plan.
 */
public final class ExFlowPlacer implements Placer {

  /** The swap search's seed: a placement is repeatable up to CP-SAT's threads. */
  private static final long SEED = 19;

  private final Duration timeLimit;
  private final int threads;

  public ExFlowPlacer(Duration timeLimit, int threads) {
    this.timeLimit = timeLimit;
    this.threads = threads;
  }

  @Override
  public Placement place(RoutingStats stats, ClusterSpec cluster) {
    long deadline = System.nanoTime() + timeLimit.toNanos();
    Placement eplb = new EplbPlacer(EplbPlacer.Mode.GLOBAL, 1).place(stats, cluster);
    return Colocation.place(stats, cluster, eplb, ColocationObjective.keepTransitions(), deadline, threads, SEED);
  }
}

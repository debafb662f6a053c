package dev.moe.placement.baseline;

import dev.moe.placement.ClusterSpec;
import dev.moe.placement.Placement;
import dev.moe.placement.Placer;
import dev.moe.placement.colocation.Colocation;
import dev.moe.placement.colocation.ColocationObjective;
import dev.moe.stats.RoutingStats;
import java.time.Duration;

/**
 * MoETuner's expert placement (Go and Mahajan 2025, "MoETuner: Optimized Mixture of Expert Serving
 * with Balanced Expert Placement and Token Routing"): an integer program over token load and
 * communication that uses the routing dependency between consecutive layers.
 *
 * <p>Formulation implemented (ColocationModel, solved by CP-SAT under the given time limit), one
 * joint program rather than the paper's two stages (experts clustered per layer, then clusters
 * mapped to GPUs): a boolean per (layer, replica, GPU), each GPU exactly its slot count per layer;
 * minimize, summed over the layers the transitions link, the max GPU load plus the transitions
 * between consecutive layers that leave their GPU divided by the GPU count (both in tokens per
 * GPU). Replicas beyond one per expert are EPLB's, with equal shares, as MoETuner places each expert
 * once; EPLB's plan is the hint. Layers no transition names keep EPLB's plan.
 */
public final class MoETunerPlacer implements Placer {

  /** The swap search's seed: a placement is repeatable up to CP-SAT's threads. */
  private static final long SEED = 19;

  private final Duration timeLimit;
  private final int threads;

  public MoETunerPlacer(Duration timeLimit, int threads) {
    this.timeLimit = timeLimit;
    this.threads = threads;
  }

  @Override
  public Placement place(RoutingStats stats, ClusterSpec cluster) {
    long deadline = System.nanoTime() + timeLimit.toNanos();
    Placement eplb = new EplbPlacer(EplbPlacer.Mode.GLOBAL, 1).place(stats, cluster);
    return Colocation.place(stats, cluster, eplb, ColocationObjective.loadPlusCrossingPerGpu(cluster.gpus()), deadline, threads, SEED);
  }
}

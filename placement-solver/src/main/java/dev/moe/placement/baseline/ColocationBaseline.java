package dev.moe.placement.baseline;

import dev.moe.placement.ClusterSpec;
import dev.moe.placement.Placement;
import dev.moe.placement.Placer;
import dev.moe.placement.colocation.Colocation;
import dev.moe.placement.colocation.ColocationObjective;
import dev.moe.stats.RoutingStats;
import java.time.Duration;

/**
 * A paper's colocation program solved on EPLB's replicas (equal shares), which are also the first
 * solution: the swap search, then CP-SAT, within the time limit ({@link Colocation}). Layers no
 * transition names keep EPLB's plan.
 */
abstract sealed class ColocationBaseline implements Placer permits ExFlowPlacer, MoETunerPlacer {

  /** The swap search's seed: a placement is repeatable up to CP-SAT's threads. */
  private static final long SEED = 19;

  private final Duration timeLimit;
  private final int threads;

  ColocationBaseline(Duration timeLimit, int threads) {
    this.timeLimit = timeLimit;
    this.threads = threads;
  }

  /** The paper's objective on this cluster. */
  abstract ColocationObjective objective(ClusterSpec cluster);

  @Override
  public final Placement place(RoutingStats stats, ClusterSpec cluster) {
    long deadline = System.nanoTime() + timeLimit.toNanos();
    Placement eplb = new EplbPlacer(EplbPlacer.Mode.GLOBAL, 1).place(stats, cluster);
    return Colocation.place(stats, cluster, eplb, objective(cluster), deadline, threads, SEED);
  }
}

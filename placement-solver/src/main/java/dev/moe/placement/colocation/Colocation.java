package dev.moe.placement.colocation;

import dev.moe.placement.ClusterSpec;
import dev.moe.placement.Placement;
import dev.moe.stats.RoutingStats;
import java.time.Duration;

/**
 * Re-places the replicas of the layers transitions link, for a {@link ColocationObjective}: the swap
 * search ({@link ColocationSearch}) for half the time, then CP-SAT ({@link ColocationModel}) hinted
 * with its result for the rest; the better of the two by the objective.
 */
public final class Colocation {

  private Colocation() {}

  /**
   * @param start the replicas (experts and shares) to arrange, and the first solution; returned as
   *     it is where it breaks the load limit or has two replicas of an expert on one GPU
   */
  public static Placement place(RoutingStats stats, ClusterSpec cluster, Placement start,
      ColocationObjective objective, long deadline, int threads, long seed) {
    long searchDeadline = System.nanoTime() + Math.max(0, deadline - System.nanoTime()) / 2;
    Placement searched = ColocationSearch.improve(stats, cluster, start, objective, searchDeadline, seed);
    if (!ColocationModel.fits(stats, cluster)) {
      return searched;
    }
    Placement solved = ColocationModel.solve(stats, cluster, searched, objective,
        Duration.ofNanos(Math.max(1, deadline - System.nanoTime())), threads);
    return ColocationSearch.score(stats, cluster, solved, objective)
        > ColocationSearch.score(stats, cluster, searched, objective) ? solved : searched;
  }
}

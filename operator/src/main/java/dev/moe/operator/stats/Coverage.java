package dev.moe.operator.stats;

import dev.moe.crds.v1alpha1.StatisticsCoverage;
import java.util.List;

/**
 * How much of the traffic a window saw. The token share is what the counted workers counted over
 * that plus an estimate for each worker left out: what it counted in its last counted window, or the
 * counted workers' mean when it has none. A worker's tokens are its counts summed (every token is
 * counted top-k times per layer, the same for every worker, so shares need no division).
 *
 * @param missing the workers left out, each with why
 */
public record Coverage(int workersCounted, int workers, double tokenShare, List<String> missing) {

  /** Shown in messages: the first few left out. */
  private static final int NAMED = 3;

  /** Every one of {@code workers} counted. */
  public static Coverage complete(int workers) {
    return new Coverage(workers, workers, 1, List.of());
  }

  /** E.g. "7 of 8 workers, 91% of the window's estimated tokens". */
  public String describe() {
    return String.format("%d of %d workers, %.0f%% of the window's estimated tokens", workersCounted, workers,
        100 * tokenShare);
  }

  public StatisticsCoverage toStatus() {
    StatisticsCoverage c = new StatisticsCoverage();
    c.setWorkersCounted(workersCounted);
    c.setWorkers(workers);
    c.setTokenShare(Math.round(tokenShare * 1e4) / 1e4);
    if (!missing.isEmpty()) {
      c.setMissing(String.join("; ", missing.subList(0, Math.min(NAMED, missing.size())))
          + (missing.size() > NAMED ? "; and " + (missing.size() - NAMED) + " more" : ""));
    }
    return c;
  }
}

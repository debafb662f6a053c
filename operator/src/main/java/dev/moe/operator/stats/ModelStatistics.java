package dev.moe.operator.stats;

import dev.moe.stats.InvalidStatsException;
import dev.moe.stats.RoutingStats;
import dev.moe.stats.RoutingStatsReader;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Statistics fitted to a model's shape: dense (all-zero) layers dropped, shape checked. */
public final class ModelStatistics {

  private ModelStatistics() {}

  /** Parses a statistics document (the solver's format) named {@code source} for a model. */
  public static RoutingStats parse(byte[] json, String source, int moeLayers, int experts) {
    RoutingStats stats;
    try {
      stats = RoutingStatsReader.parse(json, source);
    } catch (InvalidStatsException e) {
      throw new StatisticsUnavailableException(e.getMessage());
    }
    return fit(stats, source, moeLayers, experts);
  }

  /**
   * The MoE layers of {@code stats}: a recorder may include the dense layers as zero rows (DeepSeek-V3's
   * first three), which the model's {@code moeLayers} does not count.
   */
  public static RoutingStats fit(RoutingStats stats, String source, int moeLayers, int experts) {
    if (stats.experts() != experts) {
      throw new StatisticsUnavailableException(source + " has " + stats.experts() + " experts per layer, the model "
          + experts);
    }
    if (stats.layers() == moeLayers) {
      return stats;
    }
    List<double[]> rows = new ArrayList<>();
    for (int l = 0; l < stats.layers(); l++) {
      if (!stats.isDense(l)) {
        rows.add(stats.load(l));
      }
    }
    if (rows.isEmpty()) {
      // A recorder that has seen no token yet: all rows zero, dense or not.
      return RoutingStats.ofCounts(new double[moeLayers][experts]);
    }
    if (rows.size() != moeLayers) {
      throw new StatisticsUnavailableException(source + " has " + rows.size() + " MoE layers (of " + stats.layers()
          + "), the model " + moeLayers);
    }
    return new RoutingStats(rows.toArray(double[][]::new), Map.of(), null);
  }

  /** Whether {@code stats} counts no token at all (a window without traffic). */
  public static boolean isEmpty(RoutingStats stats) {
    for (int l = 0; l < stats.layers(); l++) {
      if (!stats.isDense(l)) {
        return false;
      }
    }
    return true;
  }

  /** Every expert of every layer equally loaded: what a model without statistics is placed for. */
  public static RoutingStats uniform(int layers, int experts) {
    double[][] counts = new double[layers][experts];
    for (double[] row : counts) {
      java.util.Arrays.fill(row, 1.0);
    }
    return RoutingStats.ofCounts(counts);
  }
}

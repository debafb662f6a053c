package dev.moe.stats;

import java.util.Map;

/**
 * Aggregated routing statistics of one model: the one routing-statistics type shared by the solver,
 * the operator and the worker runtime.
 *
 * <p>{@code logicalCount[layer][expert]} is SGLang's {@code logical_count}: how many (token, top-k
 * slot) assignments went to each logical expert. All-zero layers are dense layers and carry no
 * load. {@code transitions.get(pair)[i][j]} counts tokens routed to expert {@code i} at {@code
 * pair.from()} and to expert {@code j} at {@code pair.to()}. {@code coactivation[layer][i][j]}
 * counts tokens routed to both {@code i} and {@code j} in the same layer. Both are optional
 * (empty map, null). Validation of shapes and values happens where the data enters (the reader).
 */
public record RoutingStats(
    double[][] logicalCount, Map<LayerPair, double[][]> transitions, double[][][] coactivation) {

  public RoutingStats {
    transitions = Map.copyOf(transitions);
  }

  public static RoutingStats ofCounts(double[][] logicalCount) {
    return new RoutingStats(logicalCount, Map.of(), null);
  }

  public int layers() {
    return logicalCount.length;
  }

  public int experts() {
    return logicalCount.length == 0 ? 0 : logicalCount[0].length;
  }

  public double[] load(int layer) {
    return logicalCount[layer];
  }

  /** A dense layer (or one with no traffic recorded) has no expert load to balance. */
  public boolean isDense(int layer) {
    for (double v : logicalCount[layer]) {
      if (v != 0) {
        return false;
      }
    }
    return true;
  }

  public boolean hasAffinity() {
    return !transitions.isEmpty() || coactivation != null;
  }
}

package dev.moe.runtime.synthetic;

import dev.moe.stats.RoutingStats;
import java.util.Arrays;
import java.util.Locale;
import java.util.Map;

/**
 * How well a model's own routing of each {@link PromptKind} follows the counts it was fitted to:
 * per MoE layer, the correlation of the experts' measured counts with the target counts.
 *
 * @param measured per kind, the counts a worker recorded for that kind's tokens
 * @param target per kind, the counts it was fitted to
 */
public record RoutingFit(Map<PromptKind, RoutingStats> measured, Map<PromptKind, RoutingStats> target) {

  public RoutingFit {
    measured = Map.copyOf(measured);
    target = Map.copyOf(target);
  }

  /** Per layer, the correlation of {@code kind}'s measured counts with its target; NaN for a dense layer. */
  public double[] correlations(PromptKind kind) {
    return correlations(measured.get(kind), target.get(kind));
  }

  /**
   * Per layer, Pearson's correlation of {@code measured}'s expert counts with {@code target}'s;
   * NaN where the target is dense (no counts).
   */
  public static double[] correlations(RoutingStats measured, RoutingStats target) {
    if (measured.layers() != target.layers() || measured.experts() != target.experts()) {
      throw new IllegalArgumentException("counts of " + measured.layers() + " x " + measured.experts()
          + " cannot be compared with a target of " + target.layers() + " x " + target.experts());
    }
    double[] r = new double[target.layers()];
    for (int l = 0; l < r.length; l++) {
      r[l] = target.isDense(l) ? Double.NaN : pearson(measured.load(l), target.load(l));
    }
    return r;
  }

  /** The lowest correlation over the MoE layers. */
  public double worstCorrelation(PromptKind kind) {
    return Arrays.stream(correlations(kind)).filter(x -> !Double.isNaN(x)).min().orElse(Double.NaN);
  }

  /** The mean correlation over the MoE layers. */
  public double meanCorrelation(PromptKind kind) {
    return Arrays.stream(correlations(kind)).filter(x -> !Double.isNaN(x)).average().orElse(Double.NaN);
  }

  /** One line: per kind, the mean and lowest correlation over the layers. */
  public String summary() {
    StringBuilder s = new StringBuilder("routing vs target, correlation per MoE layer:");
    for (PromptKind kind : PromptKind.values()) {
      s.append(String.format(Locale.ROOT, " %s mean %.3f, lowest %.3f;", kind.name().toLowerCase(Locale.ROOT),
          meanCorrelation(kind), worstCorrelation(kind)));
    }
    return s.substring(0, s.length() - 1);
  }

  private static double pearson(double[] x, double[] y) {
    double mx = Arrays.stream(x).average().orElse(0);
    double my = Arrays.stream(y).average().orElse(0);
    double sxy = 0;
    double sxx = 0;
    double syy = 0;
    for (int i = 0; i < x.length; i++) {
      sxy += (x[i] - mx) * (y[i] - my);
      sxx += (x[i] - mx) * (x[i] - mx);
      syy += (y[i] - my) * (y[i] - my);
    }
    return sxy / Math.sqrt(sxx * syy);
  }
}

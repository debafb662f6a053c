package dev.moe.runtime.stats;

import dev.moe.runtime.nativelib.NativeStats;
import dev.moe.stats.LayerPair;
import dev.moe.stats.RoutingStats;
import java.util.HashMap;
import java.util.Map;
import java.util.function.IntPredicate;

/**
 * A worker's routing statistics, counted natively ({@link NativeStats}): per (layer, expert)
 * counts of the (token, choice) assignments this worker routed, and transitions between
 * consecutive MoE layers for a deterministic sample of tokens. Aggregates only: no route of any
 * token is kept beyond the step that pairs its layers.
 */
public final class RoutingRecorder implements AutoCloseable {

  private final NativeStats stats;
  private final IntPredicate isMoeLayer;
  private final int layers;

  /**
   * @param layers the model's layers, dense ones included (their rows stay zero, as in SGLang's
   *     dumps)
   * @param sampleEvery 1 in this many tokens feeds the transitions
   */
  public RoutingRecorder(int layers, int experts, int k, int sampleEvery, IntPredicate isMoeLayer) {
    this.stats = NativeStats.create(layers, experts, k, sampleEvery);
    this.layers = layers;
    this.isMoeLayer = isMoeLayer;
  }

  /**
   * One layer's routing of {@code tokens} tokens, {@code ids} {@code [tokens, k]}; {@code keys}
   * identify the tokens across the layers of one step.
   */
  public synchronized void record(int layer, int[] ids, int tokens, long[] keys) {
    stats.record(layer, ids, tokens, keys);
  }

  /**
   * The counts since the last reset, as the solver reads them: {@code logical_count} and, with
   * {@code withTransitions}, a transition matrix for every pair of consecutive MoE layers. A reset
   * clears both.
   */
  public RoutingStats snapshot(boolean reset, boolean withTransitions) {
    NativeStats.Snapshot s;
    synchronized (this) {
      s = stats.snapshot(reset, withTransitions);
    }
    double[][] counts = new double[layers][];
    for (int l = 0; l < layers; l++) {
      counts[l] = toDouble(s.counts()[l]);
    }
    Map<LayerPair, double[][]> transitions = new HashMap<>();
    for (int l = 0; withTransitions && l + 1 < layers; l++) {
      if (isMoeLayer.test(l) && isMoeLayer.test(l + 1)) {
        long[][] t = s.transitions()[l];
        double[][] m = new double[t.length][];
        for (int i = 0; i < t.length; i++) {
          m[i] = toDouble(t[i]);
        }
        transitions.put(new LayerPair(l, l + 1), m);
      }
    }
    return new RoutingStats(counts, transitions, null);
  }

  private static double[] toDouble(long[] a) {
    double[] d = new double[a.length];
    for (int i = 0; i < a.length; i++) {
      d[i] = a[i];
    }
    return d;
  }

  @Override
  public synchronized void close() {
    stats.close();
  }
}

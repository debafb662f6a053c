package dev.moe.runtime.replay;

import dev.moe.runtime.layer.Routing;
import dev.moe.runtime.model.ExpertWeights;
import dev.moe.runtime.nativelib.Backend;
import dev.moe.runtime.parallel.ExpertModel;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.stream.IntStream;

/**
 * A model with the shape of some routing statistics (layers x experts, top-k) and random expert
 * weights, scaled down to run anywhere. Each expert's weights follow from (seed, layer, expert),
 * so every worker, and a worker fetching from the "checkpoint", gets the same expert. It has no
 * router: replay forces the routing.
 */
public final class SyntheticModel implements ExpertModel {

  private final int layers;
  private final boolean[] replayed;
  private final int experts;
  private final int topK;
  private final int hidden;
  private final int inter;
  private final long seed;

  /** @param replayedLayers the layers run as MoE layers; the others are skipped (dense) */
  public SyntheticModel(int layers, int[] replayedLayers, int experts, int topK, int hidden, int inter, long seed) {
    this.layers = layers;
    this.replayed = new boolean[layers];
    for (int l : replayedLayers) {
      replayed[l] = true;
    }
    this.experts = experts;
    this.topK = topK;
    this.hidden = hidden;
    this.inter = inter;
    this.seed = seed;
  }

  @Override
  public int layers() {
    return layers;
  }

  @Override
  public boolean isMoeLayer(int layer) {
    return layer >= 0 && layer < layers && replayed[layer];
  }

  @Override
  public String moeLayerProblem(int layer) {
    return isMoeLayer(layer) ? null : "layer " + layer + " is not replayed; replayed layers are "
        + Arrays.toString(IntStream.range(0, layers).filter(l -> replayed[l]).toArray());
  }

  @Override
  public int hidden() {
    return hidden;
  }

  @Override
  public int inter() {
    return inter;
  }

  @Override
  public int experts() {
    return experts;
  }

  @Override
  public int topK() {
    return topK;
  }

  /** Uniform in +-1/sqrt(fan-in), so activations keep their scale through the layers. */
  @Override
  public ExpertWeights expert(int layer, int expert) {
    SplittableRandom r = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + layer * 1_000_003L + expert);
    float[] gate = random(r, inter * hidden, 1 / Math.sqrt(hidden));
    float[] up = random(r, inter * hidden, 1 / Math.sqrt(hidden));
    float[] down = random(r, hidden * inter, 1 / Math.sqrt(inter));
    return ExpertWeights.ofFloats(hidden, inter, gate, up, down);
  }

  private static float[] random(SplittableRandom r, int n, double scale) {
    float[] a = new float[n];
    for (int i = 0; i < n; i++) {
      a[i] = (float) ((r.nextDouble() * 2 - 1) * scale);
    }
    return a;
  }

  @Override
  public LayerOps layerOps(int layer, Backend backend) {
    return new LayerOps() {
      @Override
      public Routing route(float[] x, int tokens) {
        throw new UnsupportedOperationException("the synthetic model of a replay has no router: routing is forced");
      }

      @Override
      public void finish(float[] x, int tokens, float[] out) {
        // No shared experts.
      }
    };
  }
}

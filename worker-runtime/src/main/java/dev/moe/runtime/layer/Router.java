package dev.moe.runtime.layer;

import dev.moe.runtime.model.MoeConfig;
import dev.moe.runtime.model.RouterKind;
import dev.moe.runtime.model.RouterWeights;
import dev.moe.runtime.nativelib.Backend;
import dev.moe.runtime.nativelib.DenseMatrix;
import dev.moe.runtime.nativelib.Kernels;
import dev.moe.runtime.tensor.DType;
import java.lang.foreign.MemorySegment;

/**
 * An MoE layer's router: logits {@code x @ G^T} by a dense matrix packed once on the backend, then the
 * architecture's top-k: softmax (renormalised always for Mixtral, else by {@code norm_topk_prob})
 * or DeepSeek-V3's grouped sigmoid with score-correction bias and routed scaling factor.
 */
public final class Router implements AutoCloseable {

  private final MoeConfig config;
  private final DenseMatrix matrix;
  private final float[] bias;

  /**
   * A router over {@code weights}, its matrix stored in {@code storage} (F32, or BF16 rounded to
   * nearest even); DeepSeek's bias stays float32 either way, as it only steers the choice.
   */
  public Router(Backend backend, MoeConfig config, RouterWeights weights, DType storage) {
    if (weights.experts() != config.numExperts() || weights.hidden() != config.hiddenSize()) {
      throw new IllegalArgumentException("router of " + weights.experts() + " x " + weights.hidden()
          + " does not match the config's " + config.numExperts() + " experts x hidden " + config.hiddenSize());
    }
    if (config.routerKind() == RouterKind.SIGMOID_GROUP_TOPK && weights.bias() == null) {
      throw new IllegalArgumentException("a " + config.architecture().modelType() + " router needs its score-correction bias");
    }
    if (storage != DType.F32 && storage != DType.BF16) {
      throw new IllegalArgumentException("router weights are stored as F32 or BF16, not " + storage);
    }
    this.config = config;
    this.bias = weights.bias();
    this.matrix = DenseMatrix.create(backend, config.numExperts(), config.hiddenSize(),
        MemorySegment.ofArray(weights.weight()), DType.F32, storage, null);
  }

  public MoeConfig config() {
    return config;
  }

  /** Routes {@code tokens} rows of {@code x} ({@code [tokens, hidden]}). */
  public Routing route(float[] x, int tokens) {
    int experts = config.numExperts();
    int k = config.topK();
    float[] logits = new float[Math.multiplyExact(tokens, experts)];
    matrix.multiply(x, tokens, logits);
    int[] ids = new int[tokens * k];
    float[] weights = new float[tokens * k];
    switch (config.routerKind()) {
      case SOFTMAX_TOPK -> Kernels.softmaxTopk(logits, tokens, experts, k, config.normTopkProb(), ids, weights);
      case SIGMOID_GROUP_TOPK -> Kernels.sigmoidGroupTopk(logits, bias, tokens, experts, config.nGroup(),
          config.topkGroup(), k, config.normTopkProb(), config.routedScalingFactor(), ids, weights);
    }
    return new Routing(tokens, k, ids, weights);
  }

  @Override
  public void close() {
    matrix.close();
  }
}

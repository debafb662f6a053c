package dev.moe.runtime.layer;

import dev.moe.runtime.model.Checkpoint;
import dev.moe.runtime.model.ExpertWeights;
import dev.moe.runtime.nativelib.Backend;
import dev.moe.runtime.nativelib.ExpertBank;
import dev.moe.runtime.nativelib.Kernels;
import dev.moe.runtime.tensor.DType;
import dev.moe.runtime.tensor.FloatFormats;
import java.util.Arrays;

/**
 * An MoE layer's shared expert, run on every token: a one-slot {@link ExpertBank}, its output
 * added as is (DeepSeek-V3) or scaled by {@code sigmoid(x @ shared_expert_gate^T)} (Qwen2-MoE).
 */
public final class SharedExperts implements AutoCloseable {

  private final Backend backend;
  private final ExpertBank bank;
  private final float[] gate;

  /** {@code weights} stored in {@code dtype}; {@code gate} ({@code [hidden]}) null for an ungated expert. */
  public SharedExperts(Backend backend, ExpertWeights weights, float[] gate, DType dtype) {
    if (gate != null && gate.length != weights.hidden()) {
      throw new IllegalArgumentException("shared-expert gate has " + gate.length + " values, expected hidden "
          + weights.hidden());
    }
    this.backend = backend;
    // The gate is a weight like the others: with bf16 storage it is rounded too.
    this.gate = gate == null || dtype == DType.F32 ? gate : FloatFormats.roundToBf16(gate.clone());
    this.bank = ExpertBank.create(backend, 1, weights.hidden(), weights.inter(), dtype);
    try {
      bank.load(0, weights);
    } catch (RuntimeException e) {
      bank.close();
      throw e;
    }
  }

  /** The layer's shared expert from {@code checkpoint}, or null when the architecture has none. */
  public static SharedExperts load(Backend backend, Checkpoint checkpoint, int layer, DType dtype) {
    ExpertWeights w = checkpoint.sharedExpert(layer);
    return w == null ? null : new SharedExperts(backend, w, checkpoint.sharedGate(layer), dtype);
  }

  /** {@code out[t] += g_t * S(x[t])} for {@code tokens} rows of {@code x}; g_t = 1 when ungated. */
  public void addTo(float[] x, int tokens, float[] out) {
    int hidden = bank.hidden();
    float[] y = new float[Math.multiplyExact(tokens, hidden)];
    bank.ffn(x, tokens, new int[] {0}, new long[] {0, tokens}, 1, y);
    float[] weights = new float[tokens];
    if (gate == null) {
      Arrays.fill(weights, 1f);
    } else {
      Kernels.linear(backend, x, tokens, hidden, gate, 1, weights);
      for (int t = 0; t < tokens; t++) {
        weights[t] = (float) (1.0 / (1.0 + Math.exp(-weights[t])));
      }
    }
    int[] rowOf = new int[tokens];
    for (int t = 0; t < tokens; t++) {
      rowOf[t] = t;
    }
    Kernels.combine(y, rowOf, weights, tokens, 1, hidden, out);
  }

  public ExpertBank bank() {
    return bank;
  }

  @Override
  public void close() {
    bank.close();
  }
}

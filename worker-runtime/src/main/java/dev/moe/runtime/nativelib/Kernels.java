package dev.moe.runtime.nativelib;

import dev.moe.runtime.tensor.DType;
import java.lang.foreign.MemorySegment;

/**
 * The router and combine kernels, thin over the C functions. Array lengths are checked here:
 * heap arrays go to native code by address, so a short one would be overrun.
 */
public final class Kernels {

  private Kernels() {}

  /** {@code y[rows, out] = x[rows, in] @ w^T} with {@code w} {@code [out, in]} float32. */
  public static void linear(Backend backend, float[] x, int rows, int in, float[] w, int out, float[] y) {
    need("w", w.length, (long) out * in);
    linear(backend, x, rows, in, MemorySegment.ofArray(w), DType.F32, out, y);
  }

  /** {@code y[rows, out] = x[rows, in] @ w^T} with {@code w} {@code [out, in]} in F32 or BF16 (raw bits). */
  public static void linear(Backend backend, float[] x, int rows, int in, MemorySegment w, DType wDtype, int out,
      float[] y) {
    need("x", x.length, (long) rows * in);
    need("y", y.length, (long) rows * out);
    if (w.byteSize() < (long) out * in * wDtype.size()) {
      throw new IllegalArgumentException("w holds " + w.byteSize() + " bytes, fewer than [" + out + ", " + in + "] "
          + wDtype);
    }
    backend.lib().linear(backend.handle(), MemorySegment.ofArray(x), rows, in, w, ExpertBank.nativeDtype(wDtype), out,
        MemorySegment.ofArray(y));
  }

  /**
   * Softmax top-k per token: {@code ids}/{@code weights} {@code [tokens, k]} get the k most probable
   * experts (descending) and their probabilities, renormalised to sum 1 when {@code normalize}.
   */
  public static void softmaxTopk(float[] logits, int tokens, int experts, int k, boolean normalize, int[] ids,
      float[] weights) {
    need("logits", logits.length, (long) tokens * experts);
    need("ids", ids.length, (long) tokens * k);
    need("weights", weights.length, (long) tokens * k);
    MoeNative.get().routerSoftmaxTopk(MemorySegment.ofArray(logits), tokens, experts, k, normalize ? 1 : 0,
        MemorySegment.ofArray(ids), MemorySegment.ofArray(weights));
  }

  /** DeepSeek-V3's grouped sigmoid top-k with score-correction {@code bias} ({@code [experts]}). */
  public static void sigmoidGroupTopk(float[] logits, float[] bias, int tokens, int experts, int nGroup,
      int topkGroup, int k, boolean normalize, float scale, int[] ids, float[] weights) {
    need("logits", logits.length, (long) tokens * experts);
    need("bias", bias.length, experts);
    need("ids", ids.length, (long) tokens * k);
    need("weights", weights.length, (long) tokens * k);
    MoeNative.get().routerSigmoidGroupTopk(MemorySegment.ofArray(logits), MemorySegment.ofArray(bias), tokens, experts,
        nGroup, topkGroup, k, normalize ? 1 : 0, scale, MemorySegment.ofArray(ids), MemorySegment.ofArray(weights));
  }

  /**
   * {@code out[t] += sum_j weights[t*k+j] * rows[rowOf[t*k+j]]} for j in order ({@code rowOf} -1:
   * skipped); {@code rows} {@code [*, hidden]}, {@code out} {@code [tokens, hidden]}.
   */
  public static void combine(float[] rows, int[] rowOf, float[] weights, int tokens, int k, int hidden, float[] out) {
    need("rowOf", rowOf.length, (long) tokens * k);
    need("weights", weights.length, (long) tokens * k);
    need("out", out.length, (long) tokens * hidden);
    long available = rows.length / Math.max(hidden, 1);
    for (int i = 0; i < tokens * k; i++) {
      if (rowOf[i] < -1 || rowOf[i] >= available) {
        throw new IllegalArgumentException("rowOf[" + i + "] = " + rowOf[i] + " is outside the " + available + " rows");
      }
    }
    MoeNative.get().combine(MemorySegment.ofArray(rows), MemorySegment.ofArray(rowOf), MemorySegment.ofArray(weights),
        tokens, k, hidden, MemorySegment.ofArray(out));
  }

  /**
   * RMSNorm of {@code rows} rows of {@code dim} floats as transformers computes it on float32:
   * {@code y[i] = weight[i] * (x[i] * r)}, {@code r = 1 / sqrt(sum(x^2) / dim + eps)} with the sum in
   * float32 in index order. {@code y} may be {@code x}. Runs on the calling thread.
   */
  public static void rmsNorm(float[] x, int rows, int dim, float[] weight, float eps, float[] y) {
    rmsNorm(x, 0, rows, dim, weight, eps, y, 0);
  }

  /** {@link #rmsNorm(float[], int, int, float[], float, float[])} of the rows starting at {@code x[xOffset]}, into {@code y[yOffset]}. */
  public static void rmsNorm(float[] x, int xOffset, int rows, int dim, float[] weight, float eps, float[] y,
      int yOffset) {
    if (rows < 0 || dim <= 0 || xOffset < 0 || yOffset < 0) {
      throw new IllegalArgumentException("rmsNorm needs rows >= 0, dim > 0 and offsets >= 0, got rows " + rows
          + ", dim " + dim + ", offsets " + xOffset + " and " + yOffset);
    }
    long n = (long) rows * dim;
    need(xOffset == 0 ? "x" : "x past offset " + xOffset, x.length - (long) xOffset, n);
    need(yOffset == 0 ? "y" : "y past offset " + yOffset, y.length - (long) yOffset, n);
    need("weight", weight.length, dim);
    MoeNative.get().rmsNorm(MemorySegment.ofArray(x).asSlice((long) xOffset * Float.BYTES), rows, dim,
        MemorySegment.ofArray(weight), eps, MemorySegment.ofArray(y).asSlice((long) yOffset * Float.BYTES));
  }

  static void need(String what, long length, long needed) {
    if (length < needed) {
      throw new IllegalArgumentException(what + " holds " + Math.max(length, 0) + " elements, needs " + needed);
    }
  }
}

package dev.moe.runtime.nativelib;

import dev.moe.runtime.tensor.DType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A dense weight matrix {@code [out, in]} (nn.Linear's layout) held by a backend, with an optional
 * float32 bias: {@code y = x @ w^T (+ bias)} with float32 accumulation, each row computed in an order
 * that depends only on that row (bit-identical whatever else is in the batch).
 */
public final class DenseMatrix implements AutoCloseable {

  private final Backend backend;
  private final MoeNative lib;
  private MemorySegment handle;
  private final int out;
  private final int in;
  private final DType dtype;

  private DenseMatrix(Backend backend, MemorySegment handle, int out, int in, DType dtype) {
    this.backend = backend;
    this.lib = backend.lib();
    this.handle = handle;
    this.out = out;
    this.in = in;
    this.dtype = dtype;
  }

  /**
   * {@code weights} {@code [out, in]} in {@code src} (F32, or BF16 as raw bits), stored in {@code storage}
   * (F32, or BF16 rounded to nearest even); {@code bias} {@code [out]}, or null for none.
   */
  public static DenseMatrix create(Backend backend, int out, int in, MemorySegment weights, DType src, DType storage,
      float[] bias) {
    if (out <= 0 || in <= 0) {
      throw new IllegalArgumentException("a dense matrix needs positive out and in, got " + out + " and " + in);
    }
    int srcCode = ExpertBank.nativeDtype(src);
    int storageCode = ExpertBank.nativeDtype(storage);
    long bytes = (long) out * in * src.size();
    if (weights.byteSize() < bytes) {
      throw new IllegalArgumentException("weights hold " + weights.byteSize() + " bytes, fewer than [" + out + ", " + in
          + "] " + src + " (" + bytes + " bytes)");
    }
    if (bias != null && bias.length != out) {
      throw new IllegalArgumentException("bias holds " + bias.length + " floats, the matrix has " + out + " outputs");
    }
    // Creation is linked as a plain downcall (it allocates and packs), which takes native memory only.
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment w = weights.isNative() ? weights : arena.allocate(bytes, 64).copyFrom(weights.asSlice(0, bytes));
      MemorySegment b = bias == null ? MemorySegment.NULL : arena.allocateFrom(ValueLayout.JAVA_FLOAT, bias);
      MemorySegment h = backend.lib().matrixCreate(backend.handle(), out, in, w, srcCode, storageCode, b);
      return new DenseMatrix(backend, h, out, in, storage);
    }
  }

  public Backend backend() {
    return backend;
  }

  public int out() {
    return out;
  }

  public int in() {
    return in;
  }

  /** The storage dtype: F32 or BF16. */
  public DType dtype() {
    return dtype;
  }

  /** {@code y[rows, out] = x[rows, in] @ w^T (+ bias)}. */
  public void multiply(float[] x, int rows, float[] y) {
    if (rows < 0) {
      throw new IllegalArgumentException("rows must be >= 0, got " + rows);
    }
    Kernels.need("x", x.length, (long) rows * in);
    Kernels.need("y", y.length, (long) rows * out);
    lib.matrixMul(backend.handle(), handle(), MemorySegment.ofArray(x), rows, MemorySegment.ofArray(y));
  }

  MemorySegment handle() {
    if (handle == null) {
      throw new IllegalStateException("dense matrix is closed");
    }
    return handle;
  }

  @Override
  public void close() {
    if (handle != null) {
      lib.matrixFree(handle);
      handle = null;
    }
  }
}

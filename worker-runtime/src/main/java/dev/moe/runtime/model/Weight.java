package dev.moe.runtime.model;

import dev.moe.runtime.tensor.DType;
import java.lang.foreign.MemorySegment;

/**
 * A dense weight as the native kernels take it: F32 or BF16 (raw bits), row-major {@code [rows,
 * cols]} (a vector is {@code [1, n]}). The data is a slice of the checkpoint's mapping (valid while
 * it is open) or a heap array of values converted from another dtype.
 */
public record Weight(String name, DType dtype, long rows, long cols, MemorySegment data) {

  public Weight {
    if (dtype != DType.F32 && dtype != DType.BF16) {
      throw new IllegalArgumentException(name + ": weights reach the kernels as F32 or BF16, not " + dtype);
    }
    if (data.byteSize() != rows * cols * dtype.size()) {
      throw new IllegalArgumentException(name + ": [" + rows + ", " + cols + "] in " + dtype + " needs "
          + rows * cols * dtype.size() + " bytes, got " + data.byteSize());
    }
  }

  public long elements() {
    return rows * cols;
  }
}

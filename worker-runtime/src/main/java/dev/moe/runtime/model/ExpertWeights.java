package dev.moe.runtime.model;

import dev.moe.runtime.tensor.DType;
import java.lang.foreign.MemorySegment;

/**
 * One SwiGLU expert's weights as the checkpoint lays them out: gate and up {@code [inter, hidden]},
 * down {@code [hidden, inter]}, row-major, in {@code dtype} (F32, or BF16 as raw bits). The
 * segments are slices of the checkpoint's mapping (valid while it is open) or heap arrays holding
 * converted values; either can be passed to {@code ExpertBank.load}.
 */
public record ExpertWeights(DType dtype, int hidden, int inter, MemorySegment gate, MemorySegment up,
    MemorySegment down) {

  public ExpertWeights {
    if (dtype != DType.F32 && dtype != DType.BF16) {
      throw new IllegalArgumentException("expert weights must be F32 or BF16, not " + dtype);
    }
    long bytes = (long) hidden * inter * dtype.size();
    if (gate.byteSize() != bytes || up.byteSize() != bytes || down.byteSize() != bytes) {
      throw new IllegalArgumentException("expert weights of hidden " + hidden + " and inter " + inter + " in " + dtype
          + " need " + bytes + " bytes per matrix, got " + gate.byteSize() + ", " + up.byteSize() + ", "
          + down.byteSize());
    }
  }

  /** Weights held in Java arrays (converted from another dtype, or made by a test). */
  public static ExpertWeights ofFloats(int hidden, int inter, float[] gate, float[] up, float[] down) {
    return new ExpertWeights(DType.F32, hidden, inter, MemorySegment.ofArray(gate), MemorySegment.ofArray(up),
        MemorySegment.ofArray(down));
  }
}

package dev.moe.runtime.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * One tensor of a safetensors file: its bytes (little-endian, row-major) are a slice of the
 * file's mapping, valid while the file is open.
 */
public record TensorView(String name, DType dtype, long[] shape, MemorySegment data) {

  private static final ValueLayout.OfFloat F32_LE =
      ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final ValueLayout.OfDouble F64_LE =
      ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final ValueLayout.OfShort I16_LE =
      ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final ValueLayout.OfInt I32_LE =
      ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final ValueLayout.OfLong I64_LE =
      ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

  public TensorView {
    shape = shape.clone();
  }

  @Override
  public long[] shape() {
    return shape.clone();
  }

  public int rank() {
    return shape.length;
  }

  public long dim(int i) {
    return shape[i];
  }

  /** Number of elements (1 for a scalar). */
  public long numel() {
    return numel(shape);
  }

  /** Number of elements of a tensor of this shape; overflow is an error, not a wrap. */
  public static long numel(long[] shape) {
    long n = 1;
    for (long d : shape) {
      n = Math.multiplyExact(n, d);
    }
    return n;
  }

  /** The shape as Python prints it, e.g. {@code [8, 64]}. */
  public static String shapeString(long[] shape) {
    return Arrays.toString(shape);
  }

  /** The elements as float32: F32 copied, F64/F16/BF16/F8_E4M3 converted. */
  public float[] toFloats() {
    int n = checkedLength();
    float[] out = new float[n];
    switch (dtype) {
      case F32 -> MemorySegment.copy(data, F32_LE, 0, out, 0, n);
      case BF16 -> {
        for (int i = 0; i < n; i++) {
          out[i] = FloatFormats.bf16ToFloat(data.getAtIndex(I16_LE, i));
        }
      }
      case F16 -> {
        for (int i = 0; i < n; i++) {
          out[i] = FloatFormats.f16ToFloat(data.getAtIndex(I16_LE, i));
        }
      }
      case F8_E4M3 -> {
        for (int i = 0; i < n; i++) {
          out[i] = FloatFormats.e4m3ToFloat(data.get(ValueLayout.JAVA_BYTE, i));
        }
      }
      case F64 -> {
        for (int i = 0; i < n; i++) {
          out[i] = (float) data.getAtIndex(F64_LE, i);
        }
      }
      default -> throw new InvalidTensorFileException(
          "tensor '" + name + "' has dtype " + dtype.safetensorsName() + ", expected a float dtype");
    }
    return out;
  }

  /** The elements as int64: I64 copied, I32 widened. */
  public long[] toLongs() {
    int n = checkedLength();
    long[] out = new long[n];
    switch (dtype) {
      case I64 -> MemorySegment.copy(data, I64_LE, 0, out, 0, n);
      case I32 -> {
        for (int i = 0; i < n; i++) {
          out[i] = data.getAtIndex(I32_LE, i);
        }
      }
      default -> throw new InvalidTensorFileException(
          "tensor '" + name + "' has dtype " + dtype.safetensorsName() + ", expected I64 or I32");
    }
    return out;
  }

  private int checkedLength() {
    long n = numel();
    if (n > Integer.MAX_VALUE - 8) {
      throw new InvalidTensorFileException(
          "tensor '" + name + "' has " + n + " elements, too many for one Java array");
    }
    return (int) n;
  }
}

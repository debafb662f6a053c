package dev.moe.runtime.tensor;

/** Conversions between float32 and the narrow float formats checkpoints store. */
public final class FloatFormats {

  private FloatFormats() {}

  /** The float32 value of bf16 bits (bf16 is the upper half of a float32, so this is exact). */
  public static float bf16ToFloat(short bits) {
    return Float.intBitsToFloat((bits & 0xffff) << 16);
  }

  /** {@code f} rounded to the nearest bf16, ties to even (as torch's {@code .to(torch.bfloat16)}). */
  public static short floatToBf16(float f) {
    int bits = Float.floatToRawIntBits(f);
    if (Float.isNaN(f)) {
      // Keep it a NaN after truncation: set the top mantissa bit (a quiet NaN).
      return (short) ((bits >>> 16) | 0x40);
    }
    int rounded = bits + 0x7fff + ((bits >>> 16) & 1);
    return (short) (rounded >>> 16);
  }

  /** {@code f} rounded to bf16 precision and widened back to float32. */
  public static float roundToBf16(float f) {
    return bf16ToFloat(floatToBf16(f));
  }

  /** Rounds every element of {@code values} to bf16 precision, in place; returns {@code values}. */
  public static float[] roundToBf16(float[] values) {
    for (int i = 0; i < values.length; i++) {
      values[i] = roundToBf16(values[i]);
    }
    return values;
  }

  /** The float32 value of IEEE half-precision bits. */
  public static float f16ToFloat(short bits) {
    return Float.float16ToFloat(bits);
  }

  /**
   * The float32 value of float8_e4m3fn bits: 1 sign, 4 exponent (bias 7) and 3 mantissa bits, no
   * infinities, and NaN only for the all-ones exponent and mantissa.
   */
  public static float e4m3ToFloat(byte bits) {
    int b = bits & 0xff;
    int exponent = (b >>> 3) & 0xf;
    int mantissa = b & 0x7;
    float sign = (b & 0x80) != 0 ? -1f : 1f;
    if (exponent == 0xf && mantissa == 0x7) {
      return Float.NaN;
    }
    if (exponent == 0) {
      // Subnormal: mantissa / 8 * 2^(1 - 7).
      return sign * mantissa * 0x1p-9f;
    }
    return sign * (1f + mantissa / 8f) * Math.scalb(1f, exponent - 7);
  }
}

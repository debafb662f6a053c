package dev.moe.runtime.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class FloatFormatsTest {

  @Test
  void bf16RoundsToNearestEven() {
    // 1 + 2^-8 lies halfway between bf16 neighbours 1 and 1 + 2^-7: ties go to the even one, 1.
    assertEquals(1f, FloatFormats.roundToBf16(1f + 0x1p-8f));
    // 1 + 3 * 2^-8 lies halfway between 1 + 2^-7 (odd) and 1 + 2^-6 (even).
    assertEquals(1f + 0x1p-6f, FloatFormats.roundToBf16(1f + 3 * 0x1p-8f));
    // Just above half rounds up.
    assertEquals(1f + 0x1p-7f, FloatFormats.roundToBf16(1f + 0x1p-8f + 0x1p-20f));
    assertEquals(-2.5f, FloatFormats.roundToBf16(-2.5f));
    assertEquals((short) 0x3f80, FloatFormats.floatToBf16(1f));
    assertEquals(1f, FloatFormats.bf16ToFloat((short) 0x3f80));
    assertTrue(Float.isNaN(FloatFormats.roundToBf16(Float.NaN)));
    assertEquals(Float.POSITIVE_INFINITY, FloatFormats.roundToBf16(Float.POSITIVE_INFINITY));
  }

  @Test
  void e4m3fnDecodes() {
    assertEquals(0f, FloatFormats.e4m3ToFloat((byte) 0x00));
    assertEquals(1f, FloatFormats.e4m3ToFloat((byte) 0x38));
    assertEquals(1.5f, FloatFormats.e4m3ToFloat((byte) 0x3c));
    assertEquals(2f, FloatFormats.e4m3ToFloat((byte) 0x40));
    assertEquals(-2f, FloatFormats.e4m3ToFloat((byte) 0xc0));
    assertEquals(448f, FloatFormats.e4m3ToFloat((byte) 0x7e));
    assertEquals(-448f, FloatFormats.e4m3ToFloat((byte) 0xfe));
    assertEquals(0x1p-6f, FloatFormats.e4m3ToFloat((byte) 0x08));
    assertEquals(0x1p-9f, FloatFormats.e4m3ToFloat((byte) 0x01));
    assertEquals(7 * 0x1p-9f, FloatFormats.e4m3ToFloat((byte) 0x07));
    assertTrue(Float.isNaN(FloatFormats.e4m3ToFloat((byte) 0x7f)));
    assertTrue(Float.isNaN(FloatFormats.e4m3ToFloat((byte) 0xff)));
  }

  @Test
  void f16Decodes() {
    assertEquals(1f, FloatFormats.f16ToFloat((short) 0x3c00));
    assertEquals(-2f, FloatFormats.f16ToFloat((short) 0xc000));
    assertEquals(65504f, FloatFormats.f16ToFloat((short) 0x7bff));
  }
}

package dev.moe.runtime.nativelib;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moe.runtime.tensor.DType;
import dev.moe.runtime.tensor.FloatFormats;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

class DenseMatrixTest extends CpuBackendTest {

  static float[] random(Random rnd, int n, float scale) {
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = (rnd.nextFloat() * 2 - 1) * scale;
    }
    return v;
  }

  /** y = x w^T + b in double, checked relative to sum |x_i w_i| + |b|. */
  static void assertProduct(float[] x, int rows, int in, float[] w, float[] b, int out, float[] y) {
    for (int r = 0; r < rows; r++) {
      for (int o = 0; o < out; o++) {
        double s = b == null ? 0 : b[o];
        double scale = 1e-6 + (b == null ? 0 : Math.abs(b[o]));
        for (int i = 0; i < in; i++) {
          double p = (double) x[r * in + i] * w[o * in + i];
          s += p;
          scale += Math.abs(p);
        }
        assertEquals(s, y[r * out + o], 1e-5 * scale, "row " + r + ", output " + o);
      }
    }
  }

  @Test
  void multiplyIsXTimesWTransposedPlusBias() {
    Random rnd = new Random(1);
    int rows = 5, in = 37, out = 19;
    float[] w = random(rnd, out * in, 0.3f);
    float[] b = random(rnd, out, 1);
    float[] x = random(rnd, rows * in, 1);
    try (DenseMatrix m = DenseMatrix.create(backend, out, in, MemorySegment.ofArray(w), DType.F32, DType.F32, b);
        DenseMatrix plain = DenseMatrix.create(backend, out, in, MemorySegment.ofArray(w), DType.F32, DType.F32, null)) {
      assertEquals(out, m.out());
      assertEquals(in, m.in());
      assertEquals(DType.F32, m.dtype());
      float[] y = new float[rows * out];
      m.multiply(x, rows, y);
      assertProduct(x, rows, in, w, b, out, y);
      plain.multiply(x, rows, y);
      assertProduct(x, rows, in, w, null, out, y);
    }
  }

  @Test
  void bf16StorageHoldsTheRoundedWeights() {
    Random rnd = new Random(2);
    int rows = 3, in = 300, out = 33;
    float[] w = random(rnd, out * in, 0.3f);
    float[] x = random(rnd, rows * in, 1);
    short[] bits = new short[w.length];
    for (int i = 0; i < w.length; i++) {
      bits[i] = FloatFormats.floatToBf16(w[i]);
    }
    float[] rounded = FloatFormats.roundToBf16(w);
    try (DenseMatrix fromF32 = DenseMatrix.create(backend, out, in, MemorySegment.ofArray(w), DType.F32, DType.BF16,
        null);
        DenseMatrix fromBits = DenseMatrix.create(backend, out, in, MemorySegment.ofArray(bits), DType.BF16,
            DType.BF16, null)) {
      float[] y = new float[rows * out];
      float[] y2 = new float[rows * out];
      fromF32.multiply(x, rows, y);
      fromBits.multiply(x, rows, y2);
      assertProduct(x, rows, in, rounded, null, out, y);
      assertArrayEquals(y, y2, "bf16 bits and f32 rounded on load store the same weights");
    }
  }

  @Test
  void rowsAloneEqualTheSameRowsInABatch() {
    Random rnd = new Random(3);
    int rows = 37, in = 600, out = 40;
    float[] w = random(rnd, out * in, 0.3f);
    float[] x = random(rnd, rows * in, 1);
    try (DenseMatrix m = DenseMatrix.create(backend, out, in, MemorySegment.ofArray(w), DType.F32, DType.F32,
        random(rnd, out, 1))) {
      float[] all = new float[rows * out];
      m.multiply(x, rows, all);
      for (int r = 0; r < rows; r++) {
        float[] one = new float[out];
        m.multiply(Arrays.copyOfRange(x, r * in, (r + 1) * in), 1, one);
        assertArrayEquals(Arrays.copyOfRange(all, r * out, (r + 1) * out), one, "row " + r);
      }
    }
  }

  @Test
  void argumentsAreCheckedBeforeNativeCode() {
    float[] w = new float[6];
    MemorySegment ws = MemorySegment.ofArray(w);
    assertEquals("weights hold 24 bytes, fewer than [3, 4] F32 (48 bytes)", assertThrows(IllegalArgumentException.class,
        () -> DenseMatrix.create(backend, 3, 4, ws, DType.F32, DType.F32, null)).getMessage());
    assertEquals("bias holds 2 floats, the matrix has 3 outputs", assertThrows(IllegalArgumentException.class,
        () -> DenseMatrix.create(backend, 3, 2, ws, DType.F32, DType.F32, new float[2])).getMessage());
    assertEquals("the native kernels take F32 or BF16 weights, not F16", assertThrows(IllegalArgumentException.class,
        () -> DenseMatrix.create(backend, 3, 2, ws, DType.F32, DType.F16, null)).getMessage());
    assertThrows(IllegalArgumentException.class, () -> DenseMatrix.create(backend, 0, 2, ws, DType.F32, DType.F32, null));
    DenseMatrix m = DenseMatrix.create(backend, 3, 2, ws, DType.F32, DType.F32, null);
    assertEquals("x holds 3 elements, needs 4",
        assertThrows(IllegalArgumentException.class, () -> m.multiply(new float[3], 2, new float[6])).getMessage());
    assertEquals("y holds 5 elements, needs 6",
        assertThrows(IllegalArgumentException.class, () -> m.multiply(new float[4], 2, new float[5])).getMessage());
    m.close();
    assertEquals("dense matrix is closed",
        assertThrows(IllegalStateException.class, () -> m.multiply(new float[4], 2, new float[6])).getMessage());
  }

  @Test
  void rmsNormIsTransformersFloat32Arithmetic() {
    Random rnd = new Random(4);
    int rows = 3, dim = 37;
    float eps = 1e-6f;
    float[] x = random(rnd, rows * dim, 2);
    float[] w = random(rnd, dim, 1.5f);
    float[] y = new float[rows * dim];
    Kernels.rmsNorm(x, rows, dim, w, eps, y);
    for (int r = 0; r < rows; r++) {
      float ss = 0;
      for (int i = 0; i < dim; i++) {
        ss += x[r * dim + i] * x[r * dim + i];
      }
      float inv = 1.0f / (float) Math.sqrt(ss / dim + eps);
      for (int i = 0; i < dim; i++) {
        assertEquals(w[i] * (x[r * dim + i] * inv), y[r * dim + i], 0f, "row " + r + ", dim " + i);
      }
    }
    // The offset form: rows 1..2 of x into y from offset 5.
    float[] z = new float[5 + 2 * dim];
    Kernels.rmsNorm(x, dim, 2, dim, w, eps, z, 5);
    assertArrayEquals(Arrays.copyOfRange(y, dim, 3 * dim), Arrays.copyOfRange(z, 5, z.length));
    assertEquals("weight holds 36 elements, needs 37", assertThrows(IllegalArgumentException.class,
        () -> Kernels.rmsNorm(x, rows, dim, new float[36], eps, y)).getMessage());
    assertEquals("x past offset 40 holds 71 elements, needs 74", assertThrows(IllegalArgumentException.class,
        () -> Kernels.rmsNorm(x, 40, 2, dim, w, eps, z, 0)).getMessage());
    var e = assertThrows(NativeException.class, () -> Kernels.rmsNorm(x, rows, dim, w, Float.NaN, y));
    assertTrue(e.getMessage().startsWith("moe_rms_norm failed (invalid argument): eps is not finite"), e.getMessage());
  }
}

package dev.moe.runtime.nativelib;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moe.runtime.model.ModelConfig.AttentionKind;
import dev.moe.runtime.model.ModelConfig.QkNorm;
import dev.moe.runtime.tensor.DType;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

class AttentionTest extends CpuBackendTest {

  static final int HIDDEN = 16;
  static final int HEADS = 4;
  static final int KV_HEADS = 2;
  static final int HEAD_DIM = 4;
  static final int BLOCK = 2;
  static final int MAX_BLOCKS = 4;
  static final AttentionConfig GQA = AttentionConfig.gqa(HIDDEN, HEADS, KV_HEADS, HEAD_DIM, HEAD_DIM, false,
      QkNorm.NONE, 0, 0.5f, 1f, 0f, 1e-6f);

  static Map<AttentionTensor, float[]> gqaWeights(long seed) {
    Random rnd = new Random(seed);
    Map<AttentionTensor, float[]> w = new EnumMap<>(AttentionTensor.class);
    w.put(AttentionTensor.Q, DenseMatrixTest.random(rnd, HEADS * HEAD_DIM * HIDDEN, 0.4f));
    w.put(AttentionTensor.K, DenseMatrixTest.random(rnd, KV_HEADS * HEAD_DIM * HIDDEN, 0.4f));
    w.put(AttentionTensor.V, DenseMatrixTest.random(rnd, KV_HEADS * HEAD_DIM * HIDDEN, 0.4f));
    w.put(AttentionTensor.O, DenseMatrixTest.random(rnd, HIDDEN * HEADS * HEAD_DIM, 0.4f));
    w.put(AttentionTensor.Q_BIAS, DenseMatrixTest.random(rnd, HEADS * HEAD_DIM, 0.5f));
    w.put(AttentionTensor.INV_FREQ, new float[] {1f, 0.01f});
    return w;
  }

  static Attention upload(AttentionConfig config, Map<AttentionTensor, float[]> weights) {
    Attention a = Attention.create(backend, config);
    weights.forEach(a::set);
    return a;
  }

  static double[] matvec(float[] w, int rows, int cols, double[] x, float[] bias) {
    double[] y = new double[rows];
    for (int r = 0; r < rows; r++) {
      double s = bias == null ? 0 : bias[r];
      for (int i = 0; i < cols; i++) {
        s += w[r * cols + i] * x[i];
      }
      y[r] = s;
    }
    return y;
  }

  /** RoPE (rotate_half) of each head's HEAD_DIM dims at position p, the angle in float32 as transformers has it. */
  static void rope(double[] v, int heads, int p, float[] invFreq) {
    int half = HEAD_DIM / 2;
    for (int h = 0; h < heads; h++) {
      for (int i = 0; i < half; i++) {
        float angle = p * invFreq[i];
        double c = Math.cos(angle), s = Math.sin(angle);
        double a = v[h * HEAD_DIM + i], b = v[h * HEAD_DIM + i + half];
        v[h * HEAD_DIM + i] = a * c - b * s;
        v[h * HEAD_DIM + i + half] = b * c + a * s;
      }
    }
  }

  /** A sequence's whole prompt x [n, HIDDEN] through the layer, in double. */
  static double[] reference(Map<AttentionTensor, float[]> w, float[] x, int n) {
    double[][] q = new double[n][], k = new double[n][], v = new double[n][];
    for (int p = 0; p < n; p++) {
      double[] xp = new double[HIDDEN];
      for (int i = 0; i < HIDDEN; i++) {
        xp[i] = x[p * HIDDEN + i];
      }
      q[p] = matvec(w.get(AttentionTensor.Q), HEADS * HEAD_DIM, HIDDEN, xp, w.get(AttentionTensor.Q_BIAS));
      k[p] = matvec(w.get(AttentionTensor.K), KV_HEADS * HEAD_DIM, HIDDEN, xp, null);
      v[p] = matvec(w.get(AttentionTensor.V), KV_HEADS * HEAD_DIM, HIDDEN, xp, null);
      rope(q[p], HEADS, p, w.get(AttentionTensor.INV_FREQ));
      rope(k[p], KV_HEADS, p, w.get(AttentionTensor.INV_FREQ));
    }
    double[] y = new double[n * HIDDEN];
    for (int p = 0; p < n; p++) {
      double[] mixed = new double[HEADS * HEAD_DIM];
      for (int h = 0; h < HEADS; h++) {
        int g = h / (HEADS / KV_HEADS);
        double[] s = new double[p + 1];
        double max = Double.NEGATIVE_INFINITY, sum = 0;
        for (int j = 0; j <= p; j++) {
          for (int d = 0; d < HEAD_DIM; d++) {
            s[j] += q[p][h * HEAD_DIM + d] * k[j][g * HEAD_DIM + d];
          }
          s[j] *= GQA.softmaxScale();
          max = Math.max(max, s[j]);
        }
        for (int j = 0; j <= p; j++) {
          s[j] = Math.exp(s[j] - max);
          sum += s[j];
        }
        for (int j = 0; j <= p; j++) {
          for (int d = 0; d < HEAD_DIM; d++) {
            mixed[h * HEAD_DIM + d] += s[j] / sum * v[j][g * HEAD_DIM + d];
          }
        }
      }
      System.arraycopy(matvec(w.get(AttentionTensor.O), HIDDEN, HEADS * HEAD_DIM, mixed, null), 0, y, p * HIDDEN,
          HIDDEN);
    }
    return y;
  }

  @Test
  void gqaForwardEqualsAJavaReference() {
    Map<AttentionTensor, float[]> w = gqaWeights(1);
    Random rnd = new Random(2);
    float[] a = DenseMatrixTest.random(rnd, 7 * HIDDEN, 1), b = DenseMatrixTest.random(rnd, 3 * HIDDEN, 1);
    try (Attention attention = upload(GQA, w);
        KvMemory cache = KvMemory.create(backend, 2, 8, BLOCK, attention.cacheWidth())) {
      assertEquals(2 * KV_HEADS * HEAD_DIM, attention.cacheWidth());
      // Both prompts in one call; blocks in no particular order.
      float[] x = concat(a, b), y = new float[x.length];
      attention.forward(cache, 1, x, new int[] {7, 3}, new int[] {0, 0}, new int[] {5, 0, 7, 2, 3, 6, 1, 4},
          MAX_BLOCKS, y);
      double[] ra = reference(w, a, 7), rb = reference(w, b, 3);
      for (int i = 0; i < a.length; i++) {
        assertEquals(ra[i], y[i], 1e-5, "sequence a, element " + i);
      }
      for (int i = 0; i < b.length; i++) {
        assertEquals(rb[i], y[a.length + i], 1e-5, "sequence b, element " + i);
      }
    }
  }

  @Test
  void aSequenceHasTheSameBitsAloneChunkedAndBatched() {
    for (AttentionConfig config : new AttentionConfig[] {GQA,
        AttentionConfig.mla(HIDDEN, 2, 6, 8, 4, 4, 4, true, 0, 0.4f, 1f, 1e-6f)}) {
      Map<AttentionTensor, float[]> w = config.kind() == AttentionKind.GQA ? gqaWeights(3)
          : mlaWeights(config);
      Random rnd = new Random(4);
      float[] a = DenseMatrixTest.random(rnd, 7 * HIDDEN, 1), b = DenseMatrixTest.random(rnd, 5 * HIDDEN, 1);
      try (Attention attention = upload(config, w);
          KvMemory first = KvMemory.create(backend, 1, 8, BLOCK, attention.cacheWidth());
          KvMemory second = KvMemory.create(backend, 1, 8, BLOCK, attention.cacheWidth())) {
        float[] alone = new float[a.length];
        attention.forward(first, 0, a, new int[] {7}, new int[] {0}, new int[] {3, 1, 0, 2}, MAX_BLOCKS, alone);
        // a in chunks of 3, 1 and then decodes, beside b.
        float[] got = new float[a.length];
        float[] y = new float[8 * HIDDEN];
        int[] table = {4, 6, 5, 7, 0, 1, 2, 3};  // a's blocks, then b's
        attention.forward(second, 0, concat(slice(a, 0, 3), slice(b, 0, 5)), new int[] {3, 5}, new int[] {0, 0}, table,
            MAX_BLOCKS, y);
        System.arraycopy(y, 0, got, 0, 3 * HIDDEN);
        attention.forward(second, 0, slice(a, 3, 4), new int[] {1}, new int[] {3}, table, MAX_BLOCKS, y);
        System.arraycopy(y, 0, got, 3 * HIDDEN, HIDDEN);
        for (int p = 4; p < 7; p++) {
          attention.forward(second, 0, slice(a, p, p + 1), new int[] {1}, new int[] {p}, table, MAX_BLOCKS, y);
          System.arraycopy(y, 0, got, p * HIDDEN, HIDDEN);
        }
        assertArrayEquals(alone, got, config.kind() + ": chunked, batched and decoded rows equal the whole prompt's");
        assertTrue(Arrays.stream(box(alone)).allMatch(Float::isFinite));
      }
    }
  }

  static Map<AttentionTensor, float[]> mlaWeights(AttentionConfig c) {
    Random rnd = new Random(5);
    int qOut = c.heads() * (c.qkNopeHeadDim() + c.qkRopeHeadDim());
    Map<AttentionTensor, float[]> w = new EnumMap<>(AttentionTensor.class);
    w.put(AttentionTensor.Q_A, DenseMatrixTest.random(rnd, c.qLoraRank() * HIDDEN, 0.4f));
    w.put(AttentionTensor.Q_A_NORM, DenseMatrixTest.random(rnd, c.qLoraRank(), 1));
    w.put(AttentionTensor.Q_B, DenseMatrixTest.random(rnd, qOut * c.qLoraRank(), 0.4f));
    w.put(AttentionTensor.KV_A, DenseMatrixTest.random(rnd, (c.kvLoraRank() + c.qkRopeHeadDim()) * HIDDEN, 0.4f));
    w.put(AttentionTensor.KV_A_NORM, DenseMatrixTest.random(rnd, c.kvLoraRank(), 1));
    w.put(AttentionTensor.KV_B, DenseMatrixTest.random(rnd,
        c.heads() * (c.qkNopeHeadDim() + c.vHeadDim()) * c.kvLoraRank(), 0.4f));
    w.put(AttentionTensor.O, DenseMatrixTest.random(rnd, HIDDEN * c.heads() * c.vHeadDim(), 0.4f));
    w.put(AttentionTensor.INV_FREQ, new float[] {1f, 0.1f});
    return w;
  }

  @Test
  void mistakesGetClearMessages() {
    var config = assertThrows(NativeException.class, () -> Attention.create(backend,
        AttentionConfig.gqa(HIDDEN, 4, 3, 4, 4, false, QkNorm.NONE, 0, 1, 1, 0, 1e-6f)));
    assertEquals("moe_attention_create failed (invalid argument): attention config: kv_heads = 3 does not divide"
        + " heads = 4", config.getMessage());
    Map<AttentionTensor, float[]> w = gqaWeights(6);
    try (Attention a = Attention.create(backend, GQA);
        KvMemory cache = KvMemory.create(backend, 1, 4, BLOCK, 2 * KV_HEADS * HEAD_DIM);
        Backend other = Backend.open(BackendChoice.CPU, 1);
        KvMemory foreign = KvMemory.create(other, 1, 4, BLOCK, 2 * KV_HEADS * HEAD_DIM)) {
      var size = assertThrows(NativeException.class, () -> a.set(AttentionTensor.Q, new float[5]));
      assertEquals("moe_attention_set failed (invalid argument): MOE_ATTN_Q has [16, 16] = 256 elements, got elems = 5",
          size.getMessage());
      assertEquals("Q: data holds 20 bytes, fewer than 6 F32 elements", assertThrows(IllegalArgumentException.class,
          () -> a.set(AttentionTensor.Q, MemorySegment.ofArray(new float[5]), DType.F32, DType.F32, 6)).getMessage());
      a.set(AttentionTensor.Q, w.get(AttentionTensor.Q));
      float[] x = new float[2 * HIDDEN], y = new float[2 * HIDDEN];
      int[] table = {0, 1, 2, 3};
      var missing = assertThrows(NativeException.class,
          () -> a.forward(cache, 0, x, new int[] {2}, new int[] {0}, table, MAX_BLOCKS, y));
      assertEquals(NativeException.INVALID, missing.status());
      assertTrue(missing.getMessage().endsWith("required tensors are not set: MOE_ATTN_K, MOE_ATTN_V, MOE_ATTN_O,"
          + " MOE_ATTN_INV_FREQ"), missing.getMessage());
      w.forEach(a::set);
      assertEquals("seqStart holds 2 starts for 1 sequences", assertThrows(IllegalArgumentException.class,
          () -> a.forward(cache, 0, x, new int[] {2}, new int[] {0, 0}, table, MAX_BLOCKS, y)).getMessage());
      assertEquals("x holds 32 elements, needs 48", assertThrows(IllegalArgumentException.class,
          () -> a.forward(cache, 0, x, new int[] {3}, new int[] {0}, table, MAX_BLOCKS, y)).getMessage());
      assertEquals("blockTable holds 4 elements, needs 8", assertThrows(IllegalArgumentException.class,
          () -> a.forward(cache, 0, x, new int[] {1, 1}, new int[] {0, 0}, table, MAX_BLOCKS, y)).getMessage());
      assertEquals("the KV cache belongs to another backend than this attention", assertThrows(
          IllegalArgumentException.class,
          () -> a.forward(foreign, 0, x, new int[] {2}, new int[] {0}, table, MAX_BLOCKS, y)).getMessage());
      var block = assertThrows(NativeException.class,
          () -> a.forward(cache, 0, x, new int[] {2}, new int[] {0}, new int[] {9, 1, 2, 3}, MAX_BLOCKS, y));
      assertTrue(block.getMessage().endsWith("sequence 0: block_table[0] = 9 is outside the cache's blocks [0, 4)"),
          block.getMessage());
      var past = assertThrows(NativeException.class,
          () -> a.forward(cache, 0, x, new int[] {2}, new int[] {7}, table, MAX_BLOCKS, y));
      assertTrue(past.getMessage().endsWith("sequence 0: position 8 is past its max_blocks * block_size = 8"
          + " positions"), past.getMessage());
      a.forward(cache, 0, x, new int[] {2}, new int[] {0}, table, MAX_BLOCKS, y);
    }
  }

  static float[] concat(float[] a, float[] b) {
    float[] c = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, c, a.length, b.length);
    return c;
  }

  static float[] slice(float[] x, int fromRow, int toRow) {
    return Arrays.copyOfRange(x, fromRow * HIDDEN, toRow * HIDDEN);
  }

  static Float[] box(float[] v) {
    Float[] b = new Float[v.length];
    for (int i = 0; i < v.length; i++) {
      b[i] = v[i];
    }
    return b;
  }
}

package dev.moe.runtime.nativelib;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.moe.runtime.model.ExpertWeights;
import dev.moe.runtime.tensor.DType;
import dev.moe.runtime.tensor.FloatFormats;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NativeRuntimeTest extends CpuBackendTest {

  static final int H = 8;
  static final int I = 6;

  @Test
  void platformNames() {
    assertEquals("linux-x86_64", NativeLibrary.platformOf("Linux", "amd64"));
    assertEquals("linux-x86_64", NativeLibrary.platformOf("Linux", "x86_64"));
    assertEquals("linux-aarch64", NativeLibrary.platformOf("Linux", "aarch64"));
    assertEquals("mac os x-aarch64", NativeLibrary.platformOf("Mac OS X", "aarch64"));
  }

  @Test
  void aMissingLibraryIsExplained() {
    var e = assertThrows(NativeException.class, () -> NativeLibrary.extract("/native/linux-riscv64/libmoe_runtime.so"));
    assertEquals(NativeException.LOAD_FAILED, e.status());
    assertEquals("the native library /native/linux-riscv64/libmoe_runtime.so is not on the classpath: this build of"
        + " worker-runtime was made without it (the CMake step of the Maven build puts it into target/classes)",
        e.getMessage());
  }

  @Test
  void aLibraryFileCanBeGiven(@TempDir Path dir) throws IOException {
    Path a = Files.createFile(dir.resolve("a.so"));
    Path b = Files.createFile(dir.resolve("b.so"));
    assertNull(NativeLibrary.given(null, " "));
    assertEquals(a, NativeLibrary.given(a.toString(), b.toString()), "the system property comes first");
    assertEquals(b, NativeLibrary.given("", b.toString()));
    var e = assertThrows(NativeException.class, () -> NativeLibrary.given(null, dir.resolve("c.so").toString()));
    assertEquals("the native library " + dir.resolve("c.so") + " given by MOE_NATIVE_LIBRARY is not a file",
        e.getMessage());
  }

  @Test
  void cpuBackendOpens() {
    assertTrue(Backend.buildInfo().startsWith("moe_runtime"), Backend.buildInfo());
    assertEquals(BackendChoice.CPU, backend.kind());
    assertEquals(2, backend.threads());
  }

  @Test
  void cudaWithoutADeviceNamesTheFlag() {
    assumeTrue(Backend.cudaDeviceCount() == 0, "a CUDA device is visible");
    var e = assertThrows(NativeException.class, () -> Backend.open(BackendChoice.CUDA, 0));
    assertTrue(e.getMessage().startsWith("--backend cuda: no CUDA device is usable"), e.getMessage());
    try (Backend auto = Backend.open(BackendChoice.AUTO, 1)) {
      assertEquals(BackendChoice.CPU, auto.kind());
    }
  }

  @Test
  void backendChoiceParses() {
    assertEquals(BackendChoice.CUDA, BackendChoice.parse("CUDA"));
    assertEquals("unknown backend 'gpu': expected auto, cpu or cuda",
        assertThrows(IllegalArgumentException.class, () -> BackendChoice.parse("gpu")).getMessage());
  }

  static float[] random(Random rnd, int n) {
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = (float) rnd.nextGaussian() * 0.5f;
    }
    return v;
  }

  /** y = down(silu(gate x) * up x) in double. */
  static float[] swiglu(float[] gate, float[] up, float[] down, float[] x, int rows) {
    float[] y = new float[rows * H];
    for (int r = 0; r < rows; r++) {
      double[] a = new double[I];
      for (int i = 0; i < I; i++) {
        double g = 0;
        double u = 0;
        for (int h = 0; h < H; h++) {
          g += gate[i * H + h] * x[r * H + h];
          u += up[i * H + h] * x[r * H + h];
        }
        a[i] = g / (1 + Math.exp(-g)) * u;
      }
      for (int h = 0; h < H; h++) {
        double s = 0;
        for (int i = 0; i < I; i++) {
          s += down[h * I + i] * a[i];
        }
        y[r * H + h] = (float) s;
      }
    }
    return y;
  }

  @Test
  void expertBankRoundTripsAndRunsTheGroupedFfn() {
    Random rnd = new Random(1);
    float[][] g = {random(rnd, I * H), random(rnd, I * H)};
    float[][] u = {random(rnd, I * H), random(rnd, I * H)};
    float[][] d = {random(rnd, H * I), random(rnd, H * I)};
    try (ExpertBank bank = ExpertBank.create(backend, 3, H, I, DType.F32);
        ExpertBank copy = ExpertBank.create(backend, 1, H, I, DType.F32)) {
      assertEquals(3L * H * I * 4, bank.slotBytes());
      for (int e = 0; e < 2; e++) {
        bank.load(e, ExpertWeights.ofFloats(H, I, g[e], u[e], d[e]));
      }
      byte[] exported = bank.export(1);
      ByteBuffer want = ByteBuffer.allocate(exported.length).order(ByteOrder.LITTLE_ENDIAN);
      for (float[] m : new float[][] {g[1], u[1], d[1]}) {
        for (float v : m) {
          want.putFloat(v);
        }
      }
      assertArrayEquals(want.array(), exported, "canonical layout: gate, up, down, row-major");
      assertEquals(ExpertBank.checksum(exported), bank.checksum(1));
      assertNotEquals(bank.checksum(0), bank.checksum(1));
      copy.importSlot(0, exported);
      assertEquals(bank.checksum(1), copy.checksum(0));

      // Rows 0..1 through expert 1 (slot 1), row 2 through expert 0 (slot 0).
      float[] x = random(rnd, 3 * H);
      float[] y = new float[3 * H];
      bank.ffn(x, 3, new int[] {1, 0}, new long[] {0, 2, 3}, 2, y);
      float[] want1 = swiglu(g[1], u[1], d[1], x, 2);
      float[] x2 = java.util.Arrays.copyOfRange(x, 2 * H, 3 * H);
      float[] want0 = swiglu(g[0], u[0], d[0], x2, 1);
      for (int h = 0; h < 2 * H; h++) {
        assertEquals(want1[h], y[h], 1e-5);
      }
      for (int h = 0; h < H; h++) {
        assertEquals(want0[h], y[2 * H + h], 1e-5);
      }
    }
  }

  @Test
  void bf16BankRoundsToNearestEven() {
    Random rnd = new Random(2);
    float[] g = random(rnd, I * H);
    g[0] = 1f + 0x1p-8f;        // a tie: to even, 1
    g[1] = 1f + 3 * 0x1p-8f;    // a tie: to even, 1 + 2^-6
    float[] u = random(rnd, I * H);
    float[] d = random(rnd, H * I);
    try (ExpertBank bank = ExpertBank.create(backend, 1, H, I, DType.BF16)) {
      assertEquals(3L * H * I * 2, bank.slotBytes());
      bank.load(0, ExpertWeights.ofFloats(H, I, g, u, d));
      ByteBuffer got = ByteBuffer.wrap(bank.export(0)).order(ByteOrder.LITTLE_ENDIAN);
      for (float[] m : new float[][] {g, u, d}) {
        for (float v : m) {
          assertEquals(FloatFormats.floatToBf16(v), got.getShort());
        }
      }
    }
  }

  @Test
  void arraysTooShortNeverReachNativeCode() {
    try (ExpertBank bank = ExpertBank.create(backend, 2, H, I, DType.F32)) {
      assertThrows(IllegalArgumentException.class,
          () -> bank.ffn(new float[H], 2, new int[] {0}, new long[] {0, 2}, 1, new float[2 * H]));
      assertThrows(IllegalArgumentException.class,
          () -> bank.ffn(new float[2 * H], 2, new int[] {5}, new long[] {0, 2}, 1, new float[2 * H]));
      assertThrows(IllegalArgumentException.class,
          () -> bank.ffn(new float[2 * H], 2, new int[] {0}, new long[] {0, 3}, 1, new float[2 * H]));
      assertThrows(IllegalArgumentException.class, () -> bank.importSlot(0, new byte[3]));
      assertEquals("slot 2 is out of range: the bank has slots 0..1",
          assertThrows(IllegalArgumentException.class, () -> bank.export(2)).getMessage());
    }
    assertThrows(IllegalArgumentException.class,
        () -> Kernels.combine(new float[4], new int[] {7}, new float[1], 1, 1, 4, new float[4]));
  }

  @Test
  void nativeErrorsCarryTheLibraryMessage() {
    var e = assertThrows(NativeException.class, () -> MoeNative.get().statsCreate(0, 4, 1, 1));
    assertEquals(NativeException.INVALID, e.status());
    assertTrue(e.getMessage().startsWith("moe_stats_create failed (invalid argument)"), e.getMessage());
  }

  @Test
  void linearSoftmaxAndCombine() {
    float[] x = {1, 2, 3, 4, 5, 6};           // [2, 3]
    float[] w = {1, 0, 0, 0, 1, 0, 1, 1, 1, 0, 0, -1}; // [4, 3]
    float[] y = new float[8];
    Kernels.linear(backend, x, 2, 3, w, 4, y);
    assertArrayEquals(new float[] {1, 2, 6, -3, 4, 5, 15, -6}, y);

    float[] logits = {0, (float) Math.log(2), (float) Math.log(4), 0}; // p = 1/8, 2/8, 4/8, 1/8
    int[] ids = new int[2];
    float[] weights = new float[2];
    Kernels.softmaxTopk(logits, 1, 4, 2, false, ids, weights);
    assertArrayEquals(new int[] {2, 1}, ids);
    assertArrayEquals(new float[] {0.5f, 0.25f}, weights, 1e-6f);
    Kernels.softmaxTopk(logits, 1, 4, 2, true, ids, weights);
    assertArrayEquals(new float[] {2f / 3, 1f / 3}, weights, 1e-6f);

    float[] rows = {1, 1, 10, 10, 100, 100};
    float[] out = {0.5f, 0.5f, 0, 0};
    Kernels.combine(rows, new int[] {2, 0, -1, 1}, new float[] {0.5f, 2, 9, 1}, 2, 2, 2, out);
    assertArrayEquals(new float[] {52.5f, 52.5f, 10, 10}, out);
  }

  @Test
  void sigmoidGroupTopkKeepsTheBestGroups() {
    // 4 experts in 2 groups; bias lifts expert 3 so group {2, 3} wins; weights are the bias-free sigmoids.
    float[] logits = {2f, 1.5f, 0f, 0.1f};
    float[] bias = {0f, 0f, 0f, 5f};
    int[] ids = new int[2];
    float[] weights = new float[2];
    Kernels.sigmoidGroupTopk(logits, bias, 1, 4, 2, 1, 2, false, 2.5f, ids, weights);
    assertArrayEquals(new int[] {3, 2}, ids);
    double s3 = 1 / (1 + Math.exp(-0.1));
    double s2 = 0.5;
    assertArrayEquals(new float[] {(float) (2.5 * s3), (float) (2.5 * s2)}, weights, 1e-6f);
  }

  @Test
  void statsCountChoices() {
    try (NativeStats stats = NativeStats.create(2, 3, 2, 1)) {
      stats.record(0, new int[] {0, 1, 1, 2}, 2, new long[] {10, 11});
      stats.record(1, new int[] {2, 0, 2, 1}, 2, new long[] {10, 11});
      NativeStats.Snapshot countsOnly = stats.snapshot(false, false);
      assertArrayEquals(new long[] {1, 2, 1}, countsOnly.counts()[0]);
      assertEquals(0, countsOnly.transitions().length, "no transitions asked for");
      NativeStats.Snapshot s = stats.snapshot(true, true);
      assertArrayEquals(new long[] {1, 2, 1}, s.counts()[0]);
      assertArrayEquals(new long[] {1, 1, 2}, s.counts()[1]);
      // Token 10: {0, 1} -> {2, 0}; token 11: {1, 2} -> {2, 1}.
      assertEquals(1, s.transitions()[0][0][2]);
      assertEquals(1, s.transitions()[0][1][1]);
      assertEquals(8, java.util.Arrays.stream(s.transitions()[0]).flatMapToLong(java.util.Arrays::stream).sum());
      assertEquals(0, stats.snapshot(false, true).counts()[0][1], "reset");
    }
  }

  @Test
  void benchmarkEntryPointsMeasureSomething() {
    assertTrue(Backend.fmaPeakGflops(1, 0.01) > 0);
    assertTrue(Backend.readBandwidthGbs(1 << 20, 1, 0.01) > 0);
    try (ExpertBank bank = ExpertBank.create(backend, 2, H, I, DType.F32)) {
      assertTrue(bank.benchFfn(8, 2, 3) > 0);
      assertThrows(IllegalArgumentException.class, () -> bank.benchFfn(8, 3, 3));
    }
  }

  @Test
  void checksumIsFnv1a64() {
    assertEquals(0xcbf29ce484222325L, ExpertBank.checksum(new byte[0]));
    assertEquals(0xaf63dc4c8601ec8cL, ExpertBank.checksum("a".getBytes(StandardCharsets.US_ASCII)));
  }
}

package dev.moe.runtime;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.moe.runtime.nativelib.Backend;
import dev.moe.runtime.nativelib.BackendChoice;
import dev.moe.runtime.parallel.WorkerOptions;
import java.util.Arrays;
import org.junit.jupiter.api.Assumptions;

/**
 * The CUDA cases of the tests (tagged {@value #TAG}): they run where the native library sees a CUDA
 * device and are skipped elsewhere, except under {@code -D}{@value #REQUIRED}{@code =true}, where a
 * missing device fails them, so a GPU check cannot pass without a GPU
 * ({@code worker-runtime/scripts/gpu-check} sets it).
 */
public final class CudaDevice {

  public static final String TAG = "cuda";
  public static final String REQUIRED = "moe.requireCuda";
  /**
   * {@code -D}{@value}{@code =true}: CUDA results must equal the CPU backend's bit for bit where the
   * CUDA kernels repeat its float32 arithmetic (as the native self-check's MOE_EXPECT_CPU_BITS).
   */
  public static final String EXPECT_CPU_BITS = "moe.expectCpuBits";
  /** CUDA results against the CPU backend's on float32 paths, relative to the largest |CPU value|. */
  public static final double SAME_ARITHMETIC = 1e-5;

  private CudaDevice() {}

  /** Skips the calling test when no CUDA device is usable; fails it instead under {@value #REQUIRED}=true. */
  public static void assumeUsable() {
    int devices = Backend.cudaDeviceCount();
    if (devices > 0) {
      return;
    }
    String why = "no CUDA device is usable (" + Backend.buildInfo() + ")";
    if (Boolean.getBoolean(REQUIRED)) {
      fail("-D" + REQUIRED + "=true but " + why);
    }
    Assumptions.abort(why);
  }

  /** The tests' worker options on CUDA device 0. */
  public static WorkerOptions options() {
    return WorkerOptions.defaults().withBackend(BackendChoice.CUDA, 0);
  }

  /**
   * CUDA's values against the CPU backend's: within {@link #SAME_ARITHMETIC} of the largest |CPU
   * value| (a NaN fails), and the same bits under {@value #EXPECT_CPU_BITS}=true. Prints which.
   */
  public static void assertMatchesCpu(String what, float[] cpu, float[] cuda) {
    double scale = Fixtures.maxAbs(cpu);
    double err = Fixtures.maxAbsDiff(cpu, cuda);
    boolean identical = Arrays.equals(cpu, cuda);
    System.out.printf("%s: CUDA against the CPU backend: max |difference| %.3e (max |CPU value| %.3e), %s%n", what,
        err, scale, identical ? "bit-identical" : "not bit-identical");
    assertTrue(err <= SAME_ARITHMETIC * scale, what + ": CUDA against the CPU backend: max |difference| " + err
        + " > " + SAME_ARITHMETIC + " x " + scale);
    if (Boolean.getBoolean(EXPECT_CPU_BITS)) {
      assertTrue(identical, what + ": CUDA does not give the CPU backend's bits (-D" + EXPECT_CPU_BITS + "=true)");
    }
  }
}

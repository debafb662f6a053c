package dev.moe.runtime.nativelib;

import java.lang.foreign.MemorySegment;

/**
 * A native backend context: a CPU thread pool, or one CUDA device and its stream. Like the C
 * context, it and everything made with it are used by one thread at a time.
 */
public final class Backend implements AutoCloseable {

  private static final int KIND_CPU = 0;
  private static final int KIND_CUDA = 1;

  private final MoeNative lib;
  private MemorySegment ctx;
  private final BackendChoice kind;
  private final int threads;

  private Backend(MoeNative lib, MemorySegment ctx) {
    this.lib = lib;
    this.ctx = ctx;
    this.kind = lib.ctxKind(ctx) == KIND_CUDA ? BackendChoice.CUDA : BackendChoice.CPU;
    this.threads = lib.ctxThreads(ctx);
  }

  /** Opens {@code choice} with {@code threads} CPU threads ({@code <= 0}: one per core); CUDA uses device 0. */
  public static Backend open(BackendChoice choice, int threads) {
    return open(choice, threads, 0);
  }

  /**
   * Opens {@code choice}: CPU with {@code threads} threads ({@code <= 0}: one per core), CUDA on
   * device {@code cudaDevice}. CUDA when the library has no usable device is an error; AUTO then
   * falls back to the CPU.
   */
  public static Backend open(BackendChoice choice, int threads, int cudaDevice) {
    MoeNative lib = MoeNative.get();
    boolean cuda = switch (choice) {
      case CPU -> false;
      case CUDA -> {
        int devices = lib.cudaDeviceCount();
        if (devices == 0) {
          throw new NativeException(NativeException.UNSUPPORTED, "--backend cuda: no CUDA device is usable ("
              + lib.buildInfo() + "; built without CUDA, or no GPU visible); use --backend cpu or auto");
        }
        if (cudaDevice < 0 || cudaDevice >= devices) {
          throw new NativeException(NativeException.INVALID,
              "CUDA device " + cudaDevice + " does not exist: " + devices + " device(s) are visible");
        }
        yield true;
      }
      case AUTO -> lib.cudaDeviceCount() > cudaDevice;
    };
    return new Backend(lib, lib.ctxCreate(cuda ? KIND_CUDA : KIND_CPU, cuda ? cudaDevice : threads));
  }

  /** The library's build description, e.g. {@code moe_runtime 0.1.0 cpu(avx2,fma) cuda(sm_90a)}. */
  public static String buildInfo() {
    return MoeNative.get().buildInfo();
  }

  /** CUDA devices the library can use (0 when built without CUDA). */
  public static int cudaDeviceCount() {
    return MoeNative.get().cudaDeviceCount();
  }

  /** Peak float32 FMA throughput of this machine in GFLOP/s with {@code threads} threads, measured for {@code seconds}. */
  public static double fmaPeakGflops(int threads, double seconds) {
    return MoeNative.get().benchFmaPeakGflops(threads, seconds);
  }

  /** Sustained read bandwidth in GB/s streaming a {@code bytes} buffer with {@code threads} threads. */
  public static double readBandwidthGbs(long bytes, int threads, double seconds) {
    return MoeNative.get().benchReadBandwidthGbs(bytes, threads, seconds);
  }

  /** CPU or CUDA: what was actually opened. */
  public BackendChoice kind() {
    return kind;
  }

  /** CPU threads of the pool, or the CUDA device ordinal. */
  public int threads() {
    return threads;
  }

  MoeNative lib() {
    return lib;
  }

  MemorySegment handle() {
    if (ctx == null) {
      throw new IllegalStateException("backend is closed");
    }
    return ctx;
  }

  @Override
  public void close() {
    if (ctx != null) {
      lib.ctxFree(ctx);
      ctx = null;
    }
  }

  @Override
  public String toString() {
    return kind == BackendChoice.CUDA ? "cuda:" + threads : "cpu(" + threads + " threads)";
  }
}

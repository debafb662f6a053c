package dev.moe.runtime.bench;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.util.Optional;

/**
 * OpenBLAS's {@code cblas_sgemm}, called through the FFM API: the reference the kernel benchmark
 * compares against. Loaded from the system's {@code libopenblas.so.0} when there is one.
 */
final class OpenBlas {

  static final String LIBRARY = "libopenblas.so.0";
  private static final int ROW_MAJOR = 101;
  private static final int NO_TRANS = 111;
  private static final int TRANS = 112;

  private final MethodHandle sgemm;
  private final MethodHandle setThreads;
  private final String coreName;

  private OpenBlas(SymbolLookup lib) {
    Linker linker = Linker.nativeLinker();
    sgemm = linker.downcallHandle(lib.find("cblas_sgemm").orElseThrow(), FunctionDescriptor.ofVoid(
        JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_FLOAT, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT,
        JAVA_FLOAT, ADDRESS, JAVA_INT));
    setThreads = linker.downcallHandle(lib.find("openblas_set_num_threads").orElseThrow(),
        FunctionDescriptor.ofVoid(JAVA_INT));
    MethodHandle core = linker.downcallHandle(lib.find("openblas_get_corename").orElseThrow(),
        FunctionDescriptor.of(ADDRESS));
    try {
      coreName = ((MemorySegment) core.invokeExact()).reinterpret(256).getString(0);
    } catch (Throwable t) {
      throw new IllegalStateException("openblas_get_corename failed", t);
    }
  }

  /** OpenBLAS, or empty when the library or one of its symbols is missing. */
  static Optional<OpenBlas> load() {
    try {
      return Optional.of(new OpenBlas(SymbolLookup.libraryLookup(LIBRARY, Arena.global())));
    } catch (IllegalArgumentException | java.util.NoSuchElementException e) {
      return Optional.empty();
    }
  }

  /** The kernel family OpenBLAS chose for this CPU (e.g. Haswell, SkylakeX, or Prescott when it does not know it). */
  String coreName() {
    return coreName;
  }

  void setThreads(int threads) {
    try {
      setThreads.invokeExact(threads);
    } catch (Throwable t) {
      throw new IllegalStateException("openblas_set_num_threads failed", t);
    }
  }

  /** c[m, n] = a[m, k] @ w[n, k]^T, all float32 row-major: nn.Linear's product. */
  void linear(int m, int n, int k, MemorySegment a, MemorySegment w, MemorySegment c) {
    try {
      sgemm.invokeExact(ROW_MAJOR, NO_TRANS, TRANS, m, n, k, 1.0f, a, k, w, k, 0.0f, c, n);
    } catch (Throwable t) {
      throw new IllegalStateException("cblas_sgemm failed", t);
    }
  }
}

package dev.moe.runtime.nativelib;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;

/**
 * The C functions of {@code moe_runtime.h}, one downcall handle each, with thin Java wrappers that
 * turn a failed {@code moe_status} into a {@link NativeException} carrying {@code moe_last_error()}.
 *
 * <p>Kernel calls are linked with {@code Linker.Option.critical(true)}: they may take heap
 * segments ({@code MemorySegment.ofArray(float[])}), which the JVM passes by address without a
 * copy, at the price of holding off the garbage collector while the call runs. Calls that may
 * block for long or allocate (context and bank creation, CUDA discovery, the machine benchmarks)
 * are linked normally and take only native memory.
 */
public final class MoeNative {

  private static MoeNative instance;

  private final MethodHandle lastError;
  private final MethodHandle buildInfo;
  private final MethodHandle cudaDeviceCount;
  private final MethodHandle ctxCreate;
  private final MethodHandle ctxFree;
  private final MethodHandle ctxKind;
  private final MethodHandle ctxThreads;
  private final MethodHandle expertsCreate;
  private final MethodHandle expertsFree;
  private final MethodHandle expertsLoad;
  private final MethodHandle expertsSlotBytes;
  private final MethodHandle expertsExport;
  private final MethodHandle expertsImport;
  private final MethodHandle expertsChecksum;
  private final MethodHandle expertsCopy;
  private final MethodHandle checksum;
  private final MethodHandle expertsFfn;
  private final MethodHandle linear;
  private final MethodHandle routerSoftmaxTopk;
  private final MethodHandle routerSigmoidGroupTopk;
  private final MethodHandle combine;
  private final MethodHandle statsCreate;
  private final MethodHandle statsFree;
  private final MethodHandle statsRecord;
  private final MethodHandle statsSnapshot;
  private final MethodHandle matrixCreate;
  private final MethodHandle matrixFree;
  private final MethodHandle matrixMul;
  private final MethodHandle rmsNorm;
  private final MethodHandle attentionCreate;
  private final MethodHandle attentionFree;
  private final MethodHandle attentionSet;
  private final MethodHandle attentionCacheWidth;
  private final MethodHandle kvCacheCreate;
  private final MethodHandle kvCacheFree;
  private final MethodHandle attentionForward;
  private final MethodHandle benchFmaPeakGflops;
  private final MethodHandle benchReadBandwidthGbs;
  private final MethodHandle benchExpertsFfn;

  private MoeNative(SymbolLookup lib) {
    Linker linker = Linker.nativeLinker();
    Binder plain = new Binder(linker, lib, false);
    Binder critical = new Binder(linker, lib, true);
    lastError = plain.bind("moe_last_error", FunctionDescriptor.of(ADDRESS));
    buildInfo = plain.bind("moe_build_info", FunctionDescriptor.of(ADDRESS));
    cudaDeviceCount = plain.bind("moe_cuda_device_count", FunctionDescriptor.of(JAVA_INT));
    ctxCreate = plain.bind("moe_ctx_create", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
    ctxFree = plain.bind("moe_ctx_free", FunctionDescriptor.ofVoid(ADDRESS));
    ctxKind = plain.bind("moe_ctx_kind", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    ctxThreads = plain.bind("moe_ctx_threads", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    expertsCreate = plain.bind("moe_experts_create",
        FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
    expertsFree = plain.bind("moe_experts_free", FunctionDescriptor.ofVoid(ADDRESS));
    expertsLoad = critical.bind("moe_experts_load",
        FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_INT));
    expertsSlotBytes = plain.bind("moe_experts_slot_bytes", FunctionDescriptor.of(JAVA_LONG, ADDRESS));
    expertsExport = critical.bind("moe_experts_export", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS));
    expertsImport = critical.bind("moe_experts_import", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS));
    expertsChecksum = critical.bind("moe_experts_checksum", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS));
    expertsCopy = critical.bind("moe_experts_copy", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT));
    checksum = critical.bind("moe_checksum", FunctionDescriptor.of(JAVA_LONG, ADDRESS, JAVA_LONG));
    expertsFfn = critical.bind("moe_experts_ffn", FunctionDescriptor.of(JAVA_INT,
        ADDRESS, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, ADDRESS));
    linear = critical.bind("moe_linear", FunctionDescriptor.of(JAVA_INT,
        ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS));
    routerSoftmaxTopk = critical.bind("moe_router_softmax_topk", FunctionDescriptor.of(JAVA_INT,
        ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
    routerSigmoidGroupTopk = critical.bind("moe_router_sigmoid_group_topk", FunctionDescriptor.of(JAVA_INT,
        ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_FLOAT, ADDRESS, ADDRESS));
    combine = critical.bind("moe_combine", FunctionDescriptor.of(JAVA_INT,
        ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
    statsCreate = plain.bind("moe_stats_create",
        FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
    statsFree = plain.bind("moe_stats_free", FunctionDescriptor.ofVoid(ADDRESS));
    statsRecord = critical.bind("moe_stats_record",
        FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT, ADDRESS));
    statsSnapshot = critical.bind("moe_stats_snapshot",
        FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_INT));
    matrixCreate = plain.bind("moe_matrix_create", FunctionDescriptor.of(JAVA_INT,
        ADDRESS, JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
    matrixFree = plain.bind("moe_matrix_free", FunctionDescriptor.ofVoid(ADDRESS));
    matrixMul = critical.bind("moe_matrix_mul", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, ADDRESS));
    rmsNorm = critical.bind("moe_rms_norm",
        FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS, JAVA_FLOAT, ADDRESS));
    attentionCreate = plain.bind("moe_attention_create", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
    attentionFree = plain.bind("moe_attention_free", FunctionDescriptor.ofVoid(ADDRESS));
    // Like moe_experts_load: weights may come from a heap array.
    attentionSet = critical.bind("moe_attention_set",
        FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, JAVA_LONG));
    attentionCacheWidth = plain.bind("moe_attention_cache_width", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    kvCacheCreate = plain.bind("moe_kv_cache_create",
        FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
    kvCacheFree = plain.bind("moe_kv_cache_free", FunctionDescriptor.ofVoid(ADDRESS));
    attentionForward = critical.bind("moe_attention_forward", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS,
        ADDRESS, JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, ADDRESS));
    benchFmaPeakGflops = plain.bind("moe_bench_fma_peak_gflops", FunctionDescriptor.of(JAVA_DOUBLE, JAVA_INT, JAVA_DOUBLE));
    benchReadBandwidthGbs = plain.bind("moe_bench_read_bandwidth_gbs",
        FunctionDescriptor.of(JAVA_DOUBLE, JAVA_LONG, JAVA_INT, JAVA_DOUBLE));
    benchExpertsFfn = plain.bind("moe_bench_experts_ffn",
        FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
  }

  /** The bindings, loading the library on first use (a {@link NativeException} when it cannot be). */
  public static synchronized MoeNative get() {
    if (instance == null) {
      instance = new MoeNative(NativeLibrary.lookup());
    }
    return instance;
  }

  private record Binder(Linker linker, SymbolLookup lib, boolean critical) {
    MethodHandle bind(String name, FunctionDescriptor descriptor) {
      MemorySegment symbol = lib.find(name).orElseThrow(() -> new NativeException(NativeException.LOAD_FAILED,
          "the native library " + NativeLibrary.RESOURCE + " has no symbol " + name
              + ": it does not match this version of moe_runtime.h"));
      return critical
          ? linker.downcallHandle(symbol, descriptor, Linker.Option.critical(true))
          : linker.downcallHandle(symbol, descriptor);
    }
  }

  // ---- Wrappers: exact-typed invocations; a failed status throws -------------------------------

  /** Throws when {@code status} is a failure, with the library's message for it. */
  void check(int status, String call) {
    if (status != 0) {
      String message = lastError();
      throw new NativeException(status, call + " failed (" + NativeException.statusName(status) + ")"
          + (message.isEmpty() ? "" : ": " + message));
    }
  }

  public String lastError() {
    try {
      return cString((MemorySegment) lastError.invokeExact());
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  public String buildInfo() {
    try {
      return cString((MemorySegment) buildInfo.invokeExact());
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  public int cudaDeviceCount() {
    try {
      return (int) cudaDeviceCount.invokeExact();
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  /** A new {@code moe_ctx*}; {@code kind} 0 = CPU, 1 = CUDA. */
  public MemorySegment ctxCreate(int kind, int threads) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment out = arena.allocate(ADDRESS);
      check((int) ctxCreate.invokeExact(kind, threads, out), "moe_ctx_create");
      return out.get(ADDRESS, 0);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  public void ctxFree(MemorySegment ctx) {
    try {
      ctxFree.invokeExact(ctx);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  public int ctxKind(MemorySegment ctx) {
    try {
      return (int) ctxKind.invokeExact(ctx);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  public int ctxThreads(MemorySegment ctx) {
    try {
      return (int) ctxThreads.invokeExact(ctx);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  /** A new {@code moe_experts*}; {@code dtype} 0 = F32, 1 = BF16. */
  public MemorySegment expertsCreate(MemorySegment ctx, int slots, int hidden, int inter, int dtype) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment out = arena.allocate(ADDRESS);
      check((int) expertsCreate.invokeExact(ctx, slots, hidden, inter, dtype, out), "moe_experts_create");
      return out.get(ADDRESS, 0);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  public void expertsFree(MemorySegment experts) {
    try {
      expertsFree.invokeExact(experts);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  public void expertsLoad(MemorySegment experts, int slot, MemorySegment gate, MemorySegment up, MemorySegment down,
      int srcDtype) {
    try {
      check((int) expertsLoad.invokeExact(experts, slot, gate, up, down, srcDtype), "moe_experts_load");
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  public long expertsSlotBytes(MemorySegment experts) {
    try {
      return (long) expertsSlotBytes.invokeExact(experts);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  public void expertsExport(MemorySegment experts, int slot, MemorySegment dst) {
    try {
      check((int) expertsExport.invokeExact(experts, slot, dst), "moe_experts_export");
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  public void expertsImport(MemorySegment experts, int slot, MemorySegment src) {
    try {
      check((int) expertsImport.invokeExact(experts, slot, src), "moe_experts_import");
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  public void expertsCopy(MemorySegment experts, int slot, MemorySegment src, int srcSlot) {
    try {
      check((int) expertsCopy.invokeExact(experts, slot, src, srcSlot), "moe_experts_copy");
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  public long expertsChecksum(MemorySegment experts, int slot) {
    long[] out = new long[1];
    try {
      check((int) expertsChecksum.invokeExact(experts, slot, MemorySegment.ofArray(out)), "moe_experts_checksum");
    } catch (Throwable t) {
      throw rethrow(t);
    }
    return out[0];
  }

  public long checksum(MemorySegment bytes, long n) {
    try {
      return (long) checksum.invokeExact(bytes, n);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  public void expertsFfn(MemorySegment ctx, MemorySegment experts, MemorySegment x, int rows, MemorySegment slotIds,
      MemorySegment offsets, int groups, MemorySegment y) {
    try {
      check((int) expertsFfn.invokeExact(ctx, experts, x, rows, slotIds, offsets, groups, y), "moe_experts_ffn");
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  public void linear(MemorySegment ctx, MemorySegment x, int rows, int in, MemorySegment w, int wDtype, int out,
      MemorySegment y) {
    try {
      check((int) linear.invokeExact(ctx, x, rows, in, w, wDtype, out, y), "moe_linear");
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  public void routerSoftmaxTopk(MemorySegment logits, int tokens, int experts, int k, int normalize,
      MemorySegment ids, MemorySegment weights) {
    try {
      check((int) routerSoftmaxTopk.invokeExact(logits, tokens, experts, k, normalize, ids, weights),
          "moe_router_softmax_topk");
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  public void routerSigmoidGroupTopk(MemorySegment logits, MemorySegment bias, int tokens, int experts, int nGroup,
      int topkGroup, int k, int normalize, float scale, MemorySegment ids, MemorySegment weights) {
    try {
      check((int) routerSigmoidGroupTopk.invokeExact(logits, bias, tokens, experts, nGroup, topkGroup, k, normalize,
          scale, ids, weights), "moe_router_sigmoid_group_topk");
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  public void combine(MemorySegment rows, MemorySegment rowOf, MemorySegment weights, int tokens, int k, int hidden,
      MemorySegment out) {
    try {
      check((int) combine.invokeExact(rows, rowOf, weights, tokens, k, hidden, out), "moe_combine");
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  public MemorySegment statsCreate(int layers, int experts, int k, int sampleEvery) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment out = arena.allocate(ADDRESS);
      check((int) statsCreate.invokeExact(layers, experts, k, sampleEvery, out), "moe_stats_create");
      return out.get(ADDRESS, 0);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  public void statsFree(MemorySegment stats) {
    try {
      statsFree.invokeExact(stats);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  public void statsRecord(MemorySegment stats, int layer, MemorySegment ids, int tokens, MemorySegment keys) {
    try {
      check((int) statsRecord.invokeExact(stats, layer, ids, tokens, keys), "moe_stats_record");
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  public void statsSnapshot(MemorySegment stats, MemorySegment counts, MemorySegment transitions, int reset) {
    try {
      check((int) statsSnapshot.invokeExact(stats, counts, transitions, reset), "moe_stats_snapshot");
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  /** A new {@code moe_matrix*}; {@code w} and {@code bias} (or NULL) in native memory. */
  public MemorySegment matrixCreate(MemorySegment ctx, int out, int in, MemorySegment w, int srcDtype, int dtype,
      MemorySegment bias) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment res = arena.allocate(ADDRESS);
      check((int) matrixCreate.invokeExact(ctx, out, in, w, srcDtype, dtype, bias, res), "moe_matrix_create");
      return res.get(ADDRESS, 0);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  public void matrixFree(MemorySegment m) {
    try {
      matrixFree.invokeExact(m);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  public void matrixMul(MemorySegment ctx, MemorySegment m, MemorySegment x, int rows, MemorySegment y) {
    try {
      check((int) matrixMul.invokeExact(ctx, m, x, rows, y), "moe_matrix_mul");
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  public void rmsNorm(MemorySegment x, int rows, int dim, MemorySegment w, float eps, MemorySegment y) {
    try {
      check((int) rmsNorm.invokeExact(x, rows, dim, w, eps, y), "moe_rms_norm");
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  /** A new {@code moe_attention*} for the {@code moe_attention_config} struct at {@code config}. */
  public MemorySegment attentionCreate(MemorySegment ctx, MemorySegment config) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment out = arena.allocate(ADDRESS);
      check((int) attentionCreate.invokeExact(ctx, config, out), "moe_attention_create");
      return out.get(ADDRESS, 0);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  public void attentionFree(MemorySegment attention) {
    try {
      attentionFree.invokeExact(attention);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  public void attentionSet(MemorySegment attention, int which, MemorySegment data, int srcDtype, int dtype,
      long elems) {
    try {
      check((int) attentionSet.invokeExact(attention, which, data, srcDtype, dtype, elems), "moe_attention_set");
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  public int attentionCacheWidth(MemorySegment attention) {
    try {
      return (int) attentionCacheWidth.invokeExact(attention);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  public MemorySegment kvCacheCreate(MemorySegment ctx, int layers, int blocks, int blockSize, int width) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment out = arena.allocate(ADDRESS);
      check((int) kvCacheCreate.invokeExact(ctx, layers, blocks, blockSize, width, out), "moe_kv_cache_create");
      return out.get(ADDRESS, 0);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  public void kvCacheFree(MemorySegment cache) {
    try {
      kvCacheFree.invokeExact(cache);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  public void attentionForward(MemorySegment ctx, MemorySegment attention, MemorySegment cache, int layer,
      MemorySegment x, int nseq, MemorySegment seqRows, MemorySegment seqStart, MemorySegment blockTable,
      int maxBlocks, MemorySegment y) {
    try {
      check((int) attentionForward.invokeExact(ctx, attention, cache, layer, x, nseq, seqRows, seqStart, blockTable,
          maxBlocks, y), "moe_attention_forward");
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  public double benchFmaPeakGflops(int threads, double seconds) {
    try {
      return (double) benchFmaPeakGflops.invokeExact(threads, seconds);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  public double benchReadBandwidthGbs(long bytes, int threads, double seconds) {
    try {
      return (double) benchReadBandwidthGbs.invokeExact(bytes, threads, seconds);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  /** Seconds per call of {@code moe_experts_ffn} as {@code moe_bench_experts_ffn} measures it. */
  public double benchExpertsFfn(MemorySegment ctx, MemorySegment experts, int rows, int groups, int iters) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment out = arena.allocate(JAVA_DOUBLE);
      check((int) benchExpertsFfn.invokeExact(ctx, experts, rows, groups, iters, out), "moe_bench_experts_ffn");
      return out.get(JAVA_DOUBLE, 0);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  private static String cString(MemorySegment p) {
    return p.equals(MemorySegment.NULL) ? "" : p.reinterpret(Long.MAX_VALUE).getString(0);
  }

  /** Passes runtime exceptions and errors through; a checked one cannot come from a downcall. */
  private static RuntimeException rethrow(Throwable t) {
    if (t instanceof RuntimeException r) {
      throw r;
    }
    if (t instanceof Error e) {
      throw e;
    }
    throw new IllegalStateException("unexpected exception from a native call", t);
  }
}

package dev.moe.runtime.nativelib;

import dev.moe.runtime.tensor.DType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * One decoder layer's self-attention held by a backend (GQA with RoPE variants, q/k norms, clip and a
 * sliding window; or DeepSeek-V3's MLA over a compressed latent cache), run over a batch of sequences
 * with their keys and values in a {@link KvMemory}. Each row's result depends only on its own
 * sequence and position: bit-identical however the sequence's tokens are split into calls and
 * whatever else shares a call.
 */
public final class Attention implements AutoCloseable {

  private final Backend backend;
  private final MoeNative lib;
  private MemorySegment handle;
  private final AttentionConfig config;
  private final int cacheWidth;

  private Attention(Backend backend, MemorySegment handle, AttentionConfig config) {
    this.backend = backend;
    this.lib = backend.lib();
    this.handle = handle;
    this.config = config;
    this.cacheWidth = lib.attentionCacheWidth(handle);
  }

  /** A layer with no tensors set yet; the library checks the configuration (a NativeException names the field). */
  public static Attention create(Backend backend, AttentionConfig config) {
    try (Arena arena = Arena.ofConfined()) {
      return new Attention(backend, backend.lib().attentionCreate(backend.handle(), config.toNative(arena)), config);
    }
  }

  public Backend backend() {
    return backend;
  }

  public AttentionConfig config() {
    return config;
  }

  /** Floats one position of one layer takes in the cache: GQA 2 * kvHeads * headDim, MLA kvLoraRank + qkRopeHeadDim. */
  public int cacheWidth() {
    return cacheWidth;
  }

  /**
   * Sets tensor {@code t} from {@code elems} elements of {@code data} in {@code src} (F32, or BF16 raw
   * bits for matrices), stored in {@code storage}; vectors are F32 both ways. {@code elems} must be the
   * tensor's size for this configuration (the library's message names it otherwise).
   */
  public void set(AttentionTensor t, MemorySegment data, DType src, DType storage, long elems) {
    int srcCode = ExpertBank.nativeDtype(src);
    int storageCode = ExpertBank.nativeDtype(storage);
    if (elems <= 0) {
      throw new IllegalArgumentException(t + ": elems must be > 0, got " + elems);
    }
    if (data.byteSize() < elems * src.size()) {
      throw new IllegalArgumentException(t + ": data holds " + data.byteSize() + " bytes, fewer than " + elems + " "
          + src + " elements");
    }
    lib.attentionSet(handle(), t.ordinal(), data, srcCode, storageCode, elems);
  }

  /** Sets a float32 tensor (a bias, a norm weight, inv_freq, or a matrix stored in F32) from {@code values}. */
  public void set(AttentionTensor t, float[] values) {
    set(t, MemorySegment.ofArray(values), DType.F32, DType.F32, values.length);
  }

  /**
   * One attention sublayer over {@code seqRows.length} sequences: sequence i contributes
   * {@code seqRows[i]} rows of {@code x} (sequence after sequence) at positions {@code seqStart[i]},
   * {@code seqStart[i] + 1}, ...; its keys and values go into layer {@code layer} of {@code cache} at the
   * blocks of row i of {@code blockTable} ({@code [nseq, maxBlocks]}), and its rows attend causally to
   * its positions from 0 (those before seqStart written by earlier calls). {@code y} gets
   * o_proj(attention) for every row, {@code [rows, hidden]}.
   */
  public void forward(KvMemory cache, int layer, float[] x, int[] seqRows, int[] seqStart, int[] blockTable,
      int maxBlocks, float[] y) {
    if (cache.backend() != backend) {
      throw new IllegalArgumentException("the KV cache belongs to another backend than this attention");
    }
    int nseq = seqRows.length;
    if (seqStart.length != nseq) {
      throw new IllegalArgumentException("seqStart holds " + seqStart.length + " starts for " + nseq + " sequences");
    }
    long rows = 0;
    for (int i = 0; i < nseq; i++) {
      if (seqRows[i] < 0 || seqStart[i] < 0) {
        throw new IllegalArgumentException("sequence " + i + " has " + seqRows[i] + " rows from position "
            + seqStart[i] + ": both must be >= 0");
      }
      rows += seqRows[i];
    }
    if (rows > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("seqRows sum to " + rows + " rows, more than an int");
    }
    long width = (long) rows * config.hidden();
    Kernels.need("x", x.length, width);
    Kernels.need("y", y.length, width);
    if (rows > 0 && maxBlocks <= 0) {
      throw new IllegalArgumentException("maxBlocks must be > 0, got " + maxBlocks);
    }
    // The library reads row i of the table up to maxBlocks entries.
    Kernels.need("blockTable", blockTable.length, rows > 0 ? (long) nseq * maxBlocks : 0);
    lib.attentionForward(backend.handle(), handle(), cache.handle(), layer, MemorySegment.ofArray(x), nseq,
        MemorySegment.ofArray(seqRows), MemorySegment.ofArray(seqStart), MemorySegment.ofArray(blockTable), maxBlocks,
        MemorySegment.ofArray(y));
  }

  MemorySegment handle() {
    if (handle == null) {
      throw new IllegalStateException("attention is closed");
    }
    return handle;
  }

  @Override
  public void close() {
    if (handle != null) {
      lib.attentionFree(handle);
      handle = null;
    }
  }
}

package dev.moe.runtime.nativelib;

import java.lang.foreign.MemorySegment;

/**
 * Paged key/value memory of every layer, held by a backend (host memory on the CPU, device memory on
 * CUDA): {@code layers x blocks x blockSize} positions of {@code width} floats. Only
 * {@link Attention#forward} reads and writes it; the caller owns the block tables.
 */
public final class KvMemory implements AutoCloseable {

  private final Backend backend;
  private final MoeNative lib;
  private MemorySegment handle;
  private final int layers;
  private final int blocks;
  private final int blockSize;
  private final int width;

  private KvMemory(Backend backend, MemorySegment handle, int layers, int blocks, int blockSize, int width) {
    this.backend = backend;
    this.lib = backend.lib();
    this.handle = handle;
    this.layers = layers;
    this.blocks = blocks;
    this.blockSize = blockSize;
    this.width = width;
  }

  /** {@code blocks} pages of {@code blockSize} positions for each of {@code layers} layers, {@code width} floats a position. */
  public static KvMemory create(Backend backend, int layers, int blocks, int blockSize, int width) {
    if (layers <= 0 || blocks <= 0 || blockSize <= 0 || width <= 0) {
      throw new IllegalArgumentException("a KV cache needs positive layers, blocks, block size and width, got "
          + layers + ", " + blocks + ", " + blockSize + ", " + width);
    }
    MemorySegment h = backend.lib().kvCacheCreate(backend.handle(), layers, blocks, blockSize, width);
    return new KvMemory(backend, h, layers, blocks, blockSize, width);
  }

  public Backend backend() {
    return backend;
  }

  public int layers() {
    return layers;
  }

  public int blocks() {
    return blocks;
  }

  public int blockSize() {
    return blockSize;
  }

  /** Floats a position takes: {@link Attention#cacheWidth()} of the layers using it. */
  public int width() {
    return width;
  }

  /** Bytes held: layers x blocks x blockSize x width floats. */
  public long bytes() {
    return (long) layers * blocks * blockSize * width * Float.BYTES;
  }

  MemorySegment handle() {
    if (handle == null) {
      throw new IllegalStateException("KV cache is closed");
    }
    return handle;
  }

  @Override
  public void close() {
    if (handle != null) {
      lib.kvCacheFree(handle);
      handle = null;
    }
  }
}

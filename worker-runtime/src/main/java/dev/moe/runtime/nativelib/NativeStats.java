package dev.moe.runtime.nativelib;

import java.lang.foreign.MemorySegment;

/**
 * Native routing-statistics counters: per (layer, expert) counts of routed (token, choice) pairs,
 * and layer-to-layer transitions for a deterministic sample of tokens. Aggregates only.
 */
public final class NativeStats implements AutoCloseable {

  /** A copy of the counters: {@code counts[layer][expert]}, {@code transitions[layer][from][to]} (layers - 1 of them). */
  public record Snapshot(long[][] counts, long[][][] transitions) {}

  private final MoeNative lib;
  private MemorySegment handle;
  private final int layers;
  private final int experts;
  private final int k;

  private NativeStats(MoeNative lib, MemorySegment handle, int layers, int experts, int k) {
    this.lib = lib;
    this.handle = handle;
    this.layers = layers;
    this.experts = experts;
    this.k = k;
  }

  /** Counters for {@code layers} x {@code experts}; transitions sampled for 1 in {@code sampleEvery} tokens. */
  public static NativeStats create(int layers, int experts, int k, int sampleEvery) {
    if (layers <= 0 || experts <= 0 || k <= 0 || sampleEvery <= 0) {
      throw new IllegalArgumentException("statistics need positive layers, experts, k and sample_every, got "
          + layers + ", " + experts + ", " + k + ", " + sampleEvery);
    }
    MoeNative lib = MoeNative.get();
    return new NativeStats(lib, lib.statsCreate(layers, experts, k, sampleEvery), layers, experts, k);
  }

  public int layers() {
    return layers;
  }

  public int experts() {
    return experts;
  }

  public int k() {
    return k;
  }

  /** Records one layer's routing: {@code ids} {@code [tokens, k]}, {@code keys} {@code [tokens]}. */
  public void record(int layer, int[] ids, int tokens, long[] keys) {
    if (layer < 0 || layer >= layers) {
      throw new IllegalArgumentException("layer " + layer + " is out of range 0.." + (layers - 1));
    }
    if (tokens < 0 || ids.length < (long) tokens * k || keys.length < tokens) {
      throw new IllegalArgumentException("record of " + tokens + " tokens needs " + (long) tokens * k + " ids and "
          + tokens + " keys, got " + ids.length + " and " + keys.length);
    }
    for (int i = 0; i < tokens * k; i++) {
      if (ids[i] < 0 || ids[i] >= experts) {
        throw new IllegalArgumentException("expert id " + ids[i] + " is out of range 0.." + (experts - 1));
      }
    }
    lib.statsRecord(handle(), layer, MemorySegment.ofArray(ids), tokens, MemorySegment.ofArray(keys));
  }

  /**
   * Copies the counters out, resetting them (counts and transitions) to zero when {@code reset};
   * without {@code withTransitions} the snapshot's transitions are empty ({@code [0][][]}).
   */
  public Snapshot snapshot(boolean reset, boolean withTransitions) {
    long[] counts = new long[Math.multiplyExact(layers, experts)];
    int pairs = withTransitions ? layers - 1 : 0;
    long[] transitions = new long[Math.multiplyExact(Math.multiplyExact(pairs, experts), experts)];
    lib.statsSnapshot(handle(), MemorySegment.ofArray(counts),
        pairs > 0 ? MemorySegment.ofArray(transitions) : MemorySegment.NULL, reset ? 1 : 0);
    long[][] c = new long[layers][experts];
    for (int l = 0; l < layers; l++) {
      System.arraycopy(counts, l * experts, c[l], 0, experts);
    }
    long[][][] t = new long[pairs][experts][experts];
    for (int l = 0; l < pairs; l++) {
      for (int i = 0; i < experts; i++) {
        System.arraycopy(transitions, (l * experts + i) * experts, t[l][i], 0, experts);
      }
    }
    return new Snapshot(c, t);
  }

  private MemorySegment handle() {
    if (handle == null) {
      throw new IllegalStateException("statistics are closed");
    }
    return handle;
  }

  @Override
  public void close() {
    if (handle != null) {
      lib.statsFree(handle);
      handle = null;
    }
  }
}

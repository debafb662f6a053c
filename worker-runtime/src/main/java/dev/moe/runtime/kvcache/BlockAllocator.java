package dev.moe.runtime.kvcache;

import java.util.ArrayDeque;
import java.util.Deque;

/**
 * The free blocks of a paged KV cache. A sequence takes all the blocks it may ever need when it is
 * admitted (its prompt plus its token budget), so a running sequence never waits for memory and
 * memory never runs out; blocks come back when it ends. Freed blocks are reused first, while their
 * pages are still resident. Not thread-safe: the scheduler's thread owns it.
 */
public final class BlockAllocator {

  private final int total;
  private final Deque<Integer> free = new ArrayDeque<>();

  public BlockAllocator(int blocks) {
    if (blocks < 1) {
      throw new IllegalArgumentException("a KV cache needs at least one block, got " + blocks);
    }
    this.total = blocks;
    for (int b = blocks - 1; b >= 0; b--) {
      free.push(b);
    }
  }

  public int total() {
    return total;
  }

  public int free() {
    return free.size();
  }

  /** {@code n} blocks, or null (nothing taken) when fewer are free. */
  public int[] allocate(int n) {
    if (n < 0) {
      throw new IllegalArgumentException("cannot allocate " + n + " blocks");
    }
    if (n > free.size()) {
      return null;
    }
    int[] blocks = new int[n];
    for (int i = 0; i < n; i++) {
      blocks[i] = free.pop();
    }
    return blocks;
  }

  /** Returns blocks taken by {@link #allocate}. */
  public void release(int[] blocks) {
    for (int i = blocks.length - 1; i >= 0; i--) {
      int b = blocks[i];
      if (b < 0 || b >= total) {
        throw new IllegalArgumentException("block " + b + " is not one of the " + total + " blocks");
      }
      free.push(b);
    }
    if (free.size() > total) {
      throw new IllegalStateException("more blocks released than allocated: " + free.size() + " free of " + total);
    }
  }
}

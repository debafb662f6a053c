package dev.moe.runtime.rebalance;

import java.util.concurrent.CompletableFuture;

/** Gets one expert's weights from the worker that holds it (over the group's transport). */
@FunctionalInterface
public interface SlotFetcher {

  /** The weights in the canonical slot layout and the holder's checksum of its own copy. */
  record Copy(byte[] bytes, long checksum) {}

  /** Expert {@code expert} of {@code layer} as worker {@code worker} holds it in placement {@code version}. */
  CompletableFuture<Copy> fetch(int worker, long version, int layer, int expert);
}

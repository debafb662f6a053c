package dev.moe.runtime.nativelib;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import java.util.function.Supplier;

/**
 * Runs work on the one thread that drives a backend: a context and its banks are used by one thread
 * at a time (moe_runtime.h), so other threads queue their bank calls to it and wait.
 */
public final class BackendThread {

  private BackendThread() {}

  /** {@code work}'s result, computed on {@code thread}; its runtime exceptions come back as they are. */
  public static <T> T call(Executor thread, Supplier<T> work) {
    try {
      return CompletableFuture.supplyAsync(work, thread).join();
    } catch (CompletionException e) {
      if (e.getCause() instanceof RuntimeException r) {
        throw r;
      }
      throw e;
    }
  }
}

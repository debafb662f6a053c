package dev.moe.runtime.scheduler;

/** A submitted request. */
public interface GenerationHandle {

  /**
   * Stops the request at the next step boundary and frees its KV cache; the sink then gets
   * {@link FinishReason#CANCELLED} unless the request already finished. Idempotent.
   */
  void cancel();
}

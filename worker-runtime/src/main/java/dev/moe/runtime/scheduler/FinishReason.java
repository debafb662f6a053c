package dev.moe.runtime.scheduler;

/** Why a request ended. */
public enum FinishReason {
  /** An end-of-sequence token or one of the request's stop tokens (or, at the API, a stop string). */
  STOP,
  /** max_tokens reached, or the model's context is full. */
  LENGTH,
  /** The client cancelled it (or disconnected). */
  CANCELLED,
  /** The engine failed it; the message says why. */
  ERROR
}

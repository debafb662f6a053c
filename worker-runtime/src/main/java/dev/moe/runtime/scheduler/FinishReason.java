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
  ERROR,
  /**
   * The worker could not go on with it, through no fault of the request (a peer its steps need was
   * lost for too long, the worker is stopping); the message says why, and the same request may
   * succeed if sent again.
   */
  UNAVAILABLE
}

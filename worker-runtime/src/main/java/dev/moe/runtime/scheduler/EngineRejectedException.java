package dev.moe.runtime.scheduler;

/** A request the engine does not take; {@link #kind} says which HTTP status the API answers with. */
public final class EngineRejectedException extends RuntimeException {

  public enum Kind {
    /** The request can never be served as given (too long for the context or the KV cache): 400. */
    INVALID,
    /** Too many requests are waiting; try again later: 429. */
    QUEUE_FULL,
    /** The engine is not ready (loading, a peer missing, shutting down): 503. */
    UNAVAILABLE
  }

  private final Kind kind;

  public EngineRejectedException(Kind kind, String message) {
    super(message);
    this.kind = kind;
  }

  public Kind kind() {
    return kind;
  }
}

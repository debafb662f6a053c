package dev.moe.operator.placement;

/** A MoEModel that passed the API server's schema but cannot be served; the message is for its user. */
public final class InvalidModelException extends RuntimeException {

  public InvalidModelException(String message) {
    super(message);
  }
}

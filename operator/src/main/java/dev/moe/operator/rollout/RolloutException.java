package dev.moe.operator.rollout;

/** A worker refused a placement; the message, for the model's status, says which and why. */
public final class RolloutException extends RuntimeException {

  public RolloutException(String message) {
    super(message);
  }
}

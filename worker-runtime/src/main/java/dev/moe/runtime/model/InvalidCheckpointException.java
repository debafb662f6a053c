package dev.moe.runtime.model;

/** A checkpoint that cannot be used: the message names the file, and the tensor when there is one. */
public class InvalidCheckpointException extends IllegalArgumentException {

  public InvalidCheckpointException(String message) {
    super(message);
  }

  public InvalidCheckpointException(String message, Throwable cause) {
    super(message, cause);
  }
}

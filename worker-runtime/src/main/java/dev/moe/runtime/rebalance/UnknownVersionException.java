package dev.moe.runtime.rebalance;

/** A placement version that this worker has not staged, or has already released. */
public class UnknownVersionException extends IllegalStateException {

  private static final long serialVersionUID = 1L;

  public UnknownVersionException(String message) {
    super(message);
  }
}

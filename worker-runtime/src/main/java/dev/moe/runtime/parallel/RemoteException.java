package dev.moe.runtime.parallel;

/**
 * A request that failed, locally (thrown by a handler, to become an {@link Message.ErrorReply}) or
 * at a peer (an error reply received).
 */
public class RemoteException extends RuntimeException {

  private final ErrorCode code;

  public RemoteException(ErrorCode code, String message) {
    super(message);
    this.code = code;
  }

  public RemoteException(ErrorCode code, String message, Throwable cause) {
    super(message, cause);
    this.code = code;
  }

  public ErrorCode code() {
    return code;
  }

  @Override
  public String toString() {
    return code + ": " + getMessage();
  }
}

package dev.moe.runtime.parallel;

/** A frame whose body does not decode as the message its type announces. */
public class MalformedMessageException extends RemoteException {

  public MalformedMessageException(String message) {
    super(ErrorCode.MALFORMED, message);
  }
}

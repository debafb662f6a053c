package dev.moe.runtime.layer;

/** A request the MoE block cannot run (wrong hidden size, not an MoE layer, bad batch size): a user's mistake. */
public class InvalidRequestException extends IllegalArgumentException {

  public InvalidRequestException(String message) {
    super(message);
  }
}

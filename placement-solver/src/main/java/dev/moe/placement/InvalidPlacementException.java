package dev.moe.placement;

/** A placement file that cannot be used; the message names the file, the problem and where. */
public class InvalidPlacementException extends IllegalArgumentException {

  private static final long serialVersionUID = 1L;

  public InvalidPlacementException(String source, String problem) {
    super(source + ": " + problem);
  }
}

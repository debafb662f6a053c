package dev.moe.runtime.rebalance;

/**
 * A placement version that will not be served: invalid for this group or model, or a staged slot
 * failed its checksum. The version currently served stays in service.
 */
public class PlacementRefusedException extends IllegalStateException {

  private static final long serialVersionUID = 1L;

  public PlacementRefusedException(String message) {
    super(message);
  }

  public PlacementRefusedException(String message, Throwable cause) {
    super(message, cause);
  }
}

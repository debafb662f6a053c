package dev.moe.runtime.weights;

import dev.moe.cli.CliRunner;

/**
 * Weights that cannot be fetched: the message names the URI and says why (missing object, refused
 * credentials, checksum mismatch, unreachable server), because it is what Kubernetes shows.
 */
public final class WeightsException extends RuntimeException implements CliRunner.ReportedFailure {

  public WeightsException(String message) {
    super(message);
  }

  public WeightsException(String message, Throwable cause) {
    super(message, cause);
  }
}

package dev.moe.operator.stats;

/** The statistics could not be read; the message, for the model's status, says why. */
public final class StatisticsUnavailableException extends RuntimeException {

  public StatisticsUnavailableException(String message) {
    super(message);
  }
}

package dev.moe.stats;

/** Routing statistics that cannot be used; the message names the file, the problem and where. */
public class InvalidStatsException extends IllegalArgumentException {

  private static final long serialVersionUID = 1L;

  public InvalidStatsException(String source, String problem) {
    super(source + ": " + problem);
  }
}

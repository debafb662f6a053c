package dev.moe.runtime.tokenizer;

import java.util.List;

/**
 * OpenAI's {@code stop}: the output ends before the earliest occurrence of any stop string, which
 * is not returned. Text is fed as it is generated; what could still be the start of a stop string
 * is held back, and everything before it is released at once (so a stream never shows text that a
 * later token turns into a stop).
 *
 * <p>Not thread-safe: one per request.
 */
public final class StopStrings {

  private final List<String> stops;
  private final StringBuilder pending = new StringBuilder();
  private boolean stopped;

  /** @param stops the stop strings; empty ones are ignored */
  public StopStrings(List<String> stops) {
    this.stops = stops.stream().filter(s -> !s.isEmpty()).toList();
  }

  public boolean isEmpty() {
    return stops.isEmpty();
  }

  /** Whether a stop string was found; nothing is released after that. */
  public boolean stopped() {
    return stopped;
  }

  /**
   * Adds generated text; returns what may be shown now: all of it but a possible stop string's
   * start, or, once a stop string completes, the text before it (and {@link #stopped()} is true).
   */
  public String push(String text) {
    if (stopped) {
      return "";
    }
    pending.append(text);
    int earliest = -1;
    for (String stop : stops) {
      int at = pending.indexOf(stop);
      if (at >= 0 && (earliest < 0 || at < earliest)) {
        earliest = at;
      }
    }
    if (earliest >= 0) {
      stopped = true;
      String out = pending.substring(0, earliest);
      pending.setLength(0);
      return out;
    }
    int hold = heldBack();
    String out = pending.substring(0, pending.length() - hold);
    pending.delete(0, pending.length() - hold);
    return out;
  }

  /** The text held back at the end of the output (no stop string came). */
  public String flush() {
    String out = stopped ? "" : pending.toString();
    pending.setLength(0);
    return out;
  }

  /** The length of the longest end of the pending text that begins some stop string. */
  private int heldBack() {
    int best = 0;
    for (String stop : stops) {
      for (int n = Math.min(stop.length() - 1, pending.length()); n > best; n--) {
        if (endsWith(pending, stop, n)) {
          best = n;
          break;
        }
      }
    }
    return best;
  }

  /** Whether {@code text} ends with the first {@code n} characters of {@code stop}. */
  private static boolean endsWith(CharSequence text, String stop, int n) {
    int from = text.length() - n;
    for (int i = 0; i < n; i++) {
      if (text.charAt(from + i) != stop.charAt(i)) {
        return false;
      }
    }
    return true;
  }
}

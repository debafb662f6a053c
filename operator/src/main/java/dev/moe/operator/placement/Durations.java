package dev.moe.operator.placement;

import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Go-style durations of the MoEModel spec (30s, 1m30s, 500ms, 2h), as the schema's pattern admits them. */
public final class Durations {

  private static final Pattern PART = Pattern.compile("([0-9]+(?:\\.[0-9]+)?)(ms|s|m|h)");

  private Durations() {}

  /** {@code fallback} when {@code text} is null. */
  public static Duration parse(String text, Duration fallback, String field) {
    if (text == null) {
      return fallback;
    }
    Matcher m = PART.matcher(text);
    double millis = 0;
    int end = 0;
    while (m.find() && m.start() == end) {
      double v = Double.parseDouble(m.group(1));
      millis += v * switch (m.group(2)) {
        case "ms" -> 1;
        case "s" -> 1_000;
        case "m" -> 60_000;
        default -> 3_600_000;
      };
      end = m.end();
    }
    if (end == 0 || end != text.length()) {
      throw new InvalidModelException(field + " is not a duration like 30s, 5m or 1h30m: '" + text + "'");
    }
    return Duration.ofMillis((long) millis);
  }
}

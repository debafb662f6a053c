package dev.moe.localcluster.cli;

import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/** Durations as the MoEModel API writes them: 90s, 2m, 1m30s. */
final class DurationConverter implements ITypeConverter<Duration> {

  private static final Pattern PART = Pattern.compile("(\\d+)(h|m|s)");

  @Override
  public Duration convert(String value) {
    if (!value.matches("(\\d+(h|m|s))+")) {
      throw new TypeConversionException("'" + value + "' is not a duration such as 90s, 2m or 1m30s");
    }
    Duration d = Duration.ZERO;
    Matcher m = PART.matcher(value);
    while (m.find()) {
      long n = Long.parseLong(m.group(1));
      d = d.plus(switch (m.group(2)) {
        case "h" -> Duration.ofHours(n);
        case "m" -> Duration.ofMinutes(n);
        default -> Duration.ofSeconds(n);
      });
    }
    return d;
  }
}

package dev.moe.placement.cli;

import dev.moe.placement.solve.SolverOptions;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.IDefaultValueProvider;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.TypeConversionException;

/** Option value types of the CLI. */
final class Converters {

  private Converters() {}

  /** {@code 10s}, {@code 500ms}, {@code 2m}, {@code 1h} or plain seconds ({@code 2.5}); positive. */
  static final class DurationConverter implements ITypeConverter<Duration> {
    private static final Pattern FORMAT = Pattern.compile("(\\d+(?:\\.\\d+)?)(ms|s|m|h)?");
    private static final Map<String, Long> NANOS = Map.of(
        "ms", 1_000_000L, "s", 1_000_000_000L, "m", 60_000_000_000L, "h", 3_600_000_000_000L);

    @Override
    public Duration convert(String value) {
      Matcher m = FORMAT.matcher(value.strip());
      if (!m.matches()) {
        throw new TypeConversionException("'" + value + "' is not a duration (examples: 10s, 500ms, 2m, 30)");
      }
      long nanos;
      try {
        nanos = new BigDecimal(m.group(1))
            .multiply(BigDecimal.valueOf(NANOS.get(m.group(2) == null ? "s" : m.group(2))))
            .setScale(0, RoundingMode.HALF_UP)
            .longValueExact();
      } catch (ArithmeticException e) {
        throw new TypeConversionException("'" + value + "' is too long");
      }
      if (nanos <= 0) {
        throw new TypeConversionException("'" + value + "' must be positive");
      }
      return Duration.ofNanos(nanos);
    }
  }

  /**
   * A byte count: plain ({@code 85899345920}), or with a decimal ({@code 80G}, {@code 80GB}) or
   * binary ({@code 80Gi}, {@code 80GiB}) unit.
   */
  static final class ByteSizeConverter implements ITypeConverter<Long> {
    private static final Pattern FORMAT = Pattern.compile("(\\d+)\\s*(?:([kmgt])(i)?)?b?", Pattern.CASE_INSENSITIVE);

    @Override
    public Long convert(String value) {
      Matcher m = FORMAT.matcher(value.strip());
      if (!m.matches()) {
        throw new TypeConversionException("'" + value + "' is not a byte count (examples: 85899345920, 80GiB, 512MB)");
      }
      try {
        long bytes = Long.parseLong(m.group(1));
        if (m.group(2) != null) {
          int power = "kmgt".indexOf(m.group(2).toLowerCase(Locale.ROOT)) + 1;
          long base = m.group(3) == null ? 1000 : 1024;
          for (int i = 0; i < power; i++) {
            bytes = Math.multiplyExact(bytes, base);
          }
        }
        return bytes;
      } catch (ArithmeticException | NumberFormatException e) {
        throw new TypeConversionException("'" + value + "' is too large");
      }
    }
  }

  /** The solver's own defaults, so that {@code --help} shows them and they are kept in one place. */
  static final class SolverDefaults implements IDefaultValueProvider {
    @Override
    public String defaultValue(ArgSpec arg) {
      if (!(arg instanceof OptionSpec option)) {
        return null;
      }
      SolverOptions d = SolverOptions.defaults();
      return switch (option.longestName()) {
        case "--time-limit" -> d.timeLimit().toMillis() % 1000 == 0
            ? d.timeLimit().toSeconds() + "s"
            : d.timeLimit().toMillis() + "ms";
        case "--cross-node-weight" -> String.valueOf(d.crossNodeWeight());
        case "--affinity-weight" -> String.valueOf(d.affinityWeight());
        case "--migration-weight" -> String.valueOf(d.migrationWeight());
        case "--hot-expert-min-nodes" -> String.valueOf(d.hotExpertMinNodes());
        case "--threads" -> String.valueOf(d.threads());
        default -> null;
      };
    }
  }
}

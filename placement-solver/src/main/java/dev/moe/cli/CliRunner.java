package dev.moe.cli;

import dev.moe.stats.JsonInput;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import picocli.CommandLine;

/**
 * Runs a picocli command line the way every moe-operator CLI does: a mistake of the user (options,
 * values, files) ends the run with exit code 2 and one line {@code PROGRAM: error: ...} on stderr;
 * anything else, with exit code 1 and one line. Never a stack trace: the line is what a user, or
 * the operator's log, gets to see.
 */
public final class CliRunner {

  public static final int USER_ERROR = 2;
  public static final int INTERNAL_ERROR = 1;

  /** A failure that is not the user's but whose message says enough (e.g. a native library's). */
  public interface ReportedFailure {}

  private CliRunner() {}

  /** Runs {@code command} (a picocli {@code @Command}) on {@code args}; returns the exit code. */
  public static int run(String program, Object command, String[] args, PrintStream out, PrintStream err) {
    String prefix = program + ": error: ";
    PrintWriter errWriter = new PrintWriter(err, true);
    CommandLine cmd = new CommandLine(command);
    cmd.setOut(new PrintWriter(out, true));
    cmd.setErr(errWriter);
    cmd.setCaseInsensitiveEnumValuesAllowed(true);
    cmd.setParameterExceptionHandler((ex, a) -> error(errWriter, prefix, ex.getMessage(), USER_ERROR));
    cmd.setExecutionExceptionHandler((ex, c, parsed) -> handle(errWriter, prefix, ex));
    try {
      return cmd.execute(args);
    } catch (Throwable t) {
      // Errors (out of memory, native code that fails to load) pass picocli's handlers.
      return handle(errWriter, prefix, t);
    } finally {
      out.flush();
      errWriter.flush();
    }
  }

  private static int handle(PrintWriter err, String prefix, Throwable t) {
    return switch (t) {
      case IllegalArgumentException e -> error(err, prefix, e.getMessage(), USER_ERROR);
      case UncheckedIOException e -> error(err, prefix, e.getMessage(), USER_ERROR);
      case IOException e -> error(err, prefix, JsonInput.ioReason(e), USER_ERROR);
      case ReportedFailure f -> error(err, prefix, t.getMessage(), INTERNAL_ERROR);
      default -> error(err, prefix, "internal error: " + t, INTERNAL_ERROR);
    };
  }

  private static int error(PrintWriter err, String prefix, String message, int code) {
    String line = message == null || message.isBlank() ? "unknown problem" : message;
    err.println(prefix + line.replaceAll("\\s*\\R\\s*", " ").strip());
    err.flush();
    return code;
  }
}

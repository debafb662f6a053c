package dev.moe.placement.cli;

import dev.moe.stats.JsonInput;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code placement-solver}: solves, evaluates and benchmarks expert placements.
 *
 * <p>Every mistake of the user (options, values, files) ends the run with exit code 2 and one line
 * {@code placement-solver: error: ...} on stderr; anything else that goes wrong, with exit code 1
 * and one line. Never a stack trace: the line is what a user, or the operator's log, gets to see.
 */
@Command(
    name = "placement-solver",
    description = "Places Mixture-of-Experts expert replicas onto GPUs.",
    subcommands = {SolveCommand.class, EvaluateCommand.class, BenchCommand.class, CommandLine.HelpCommand.class})
public final class PlacementCli implements Callable<Integer> {

  static final int USER_ERROR = 2;
  static final int INTERNAL_ERROR = 1;
  private static final String PREFIX = "placement-solver: error: ";

  @CommandLine.Mixin HelpOption help;

  @Spec CommandSpec spec;

  /** Where subcommands print; a PrintStream because the benchmark writes to one. */
  final PrintStream out;

  public PlacementCli() {
    this(System.out);
  }

  PlacementCli(PrintStream out) {
    this.out = out;
  }

  @Override
  public Integer call() {
    throw new ParameterException(spec.commandLine(), "missing command: solve, evaluate or bench (see --help)");
  }

  public static void main(String[] args) {
    System.exit(run(args, System.out, System.err));
  }

  /** Runs the command line and returns its exit code: 0 done, 2 user error, 1 internal error. */
  public static int run(String[] args, PrintStream out, PrintStream err) {
    PrintWriter errWriter = new PrintWriter(err, true);
    CommandLine cmd = new CommandLine(new PlacementCli(out));
    cmd.setOut(new PrintWriter(out, true));
    cmd.setErr(errWriter);
    cmd.setParameterExceptionHandler((ex, a) -> error(errWriter, ex.getMessage(), USER_ERROR));
    cmd.setExecutionExceptionHandler((ex, c, parsed) -> handle(errWriter, ex));
    try {
      return cmd.execute(args);
    } catch (Throwable t) {
      // Errors (out of memory, OR-Tools natives that fail to load) pass picocli's handlers.
      return handle(errWriter, t);
    } finally {
      out.flush();
      errWriter.flush();
    }
  }

  private static int handle(PrintWriter err, Throwable t) {
    return switch (t) {
      case IllegalArgumentException e -> error(err, e.getMessage(), USER_ERROR);
      case UncheckedIOException e -> error(err, e.getMessage(), USER_ERROR);
      case IOException e -> error(err, JsonInput.ioReason(e), USER_ERROR);
      default -> error(err, "internal error: " + t, INTERNAL_ERROR);
    };
  }

  private static int error(PrintWriter err, String message, int code) {
    String line = message == null || message.isBlank() ? "unknown problem" : message;
    err.println(PREFIX + line.replaceAll("\\s*\\R\\s*", " ").strip());
    err.flush();
    return code;
  }

  /** Shared {@code -h/--help}, without picocli's {@code --version}: the jar carries no version to print. */
  static final class HelpOption {
    @CommandLine.Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help and exit.")
    boolean help;
  }
}

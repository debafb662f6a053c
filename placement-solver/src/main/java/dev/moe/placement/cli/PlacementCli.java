package dev.moe.placement.cli;

import dev.moe.cli.CliRunner;
import java.io.PrintStream;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code placement-solver}: solves, evaluates and benchmarks expert placements. Errors are reported
 * as {@link CliRunner} says: one line on stderr, exit code 2 for the user's mistakes, 1 otherwise.
 */
@Command(
    name = "placement-solver",
    description = "Places Mixture-of-Experts expert replicas onto GPUs.",
    subcommands = {SolveCommand.class, EvaluateCommand.class, BenchCommand.class, CommandLine.HelpCommand.class})
public final class PlacementCli implements Callable<Integer> {

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
    return CliRunner.run("placement-solver", new PlacementCli(out), args, out, err);
  }

  /** Shared {@code -h/--help}, without picocli's {@code --version}: the jar carries no version to print. */
  static final class HelpOption {
    @CommandLine.Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help and exit.")
    boolean help;
  }
}

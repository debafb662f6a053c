package dev.moe.runtime.cli;

import dev.moe.cli.CliRunner;
import dev.moe.runtime.nativelib.Backend;
import dev.moe.runtime.nativelib.NativeException;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.util.Properties;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code worker-runtime}: runs Mixture-of-Experts layers on CPU or CUDA, alone or as a group of
 * workers.
 *
 * <p>Every mistake of the user (options, files, checkpoints, requests) ends the run with exit code 2
 * and one line {@code worker-runtime: error: ...} on stderr; a failure of the native library or
 * anything else, with exit code 1 and one line. Never a stack trace.
 */
@Command(
    name = "worker-runtime",
    description = "Runs Mixture-of-Experts layers of transformers checkpoints on CPU or CUDA.",
    mixinStandardHelpOptions = true,
    versionProvider = WorkerCli.Version.class,
    subcommands = {GenerateCommand.class, ForwardCommand.class, ServeCommand.class, ReplayCommand.class,
        FetchWeightsCommand.class,
        BenchKernelsCommand.class, BenchServingCommand.class, CommandLine.HelpCommand.class})
public final class WorkerCli implements Callable<Integer> {

  @Spec CommandSpec spec;

  /** Where subcommands print their results. */
  final PrintStream out;

  public WorkerCli() {
    this(System.out);
  }

  WorkerCli(PrintStream out) {
    this.out = out;
  }

  @Override
  public Integer call() {
    throw new ParameterException(spec.commandLine(), "missing command (see --help)");
  }

  public static void main(String[] args) {
    System.exit(run(args, System.out, System.err));
  }

  /** Runs the command line and returns its exit code: 0 done, 2 user error, 1 other failure. */
  public static int run(String[] args, PrintStream out, PrintStream err) {
    return CliRunner.run("worker-runtime", new WorkerCli(out), args, out, err);
  }

  /** The jar's version (from Maven's pom.properties) and the native library's build information. */
  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      String version = "unknown version";
      try (InputStream in = WorkerCli.class.getResourceAsStream(
          "/META-INF/maven/dev.moe/worker-runtime/pom.properties")) {
        if (in != null) {
          Properties p = new Properties();
          p.load(in);
          version = p.getProperty("version", version);
        }
      } catch (IOException e) {
        // No version to show is not worth failing --version over.
      }
      String nativeInfo;
      try {
        nativeInfo = Backend.buildInfo() + ", " + Backend.cudaDeviceCount() + " CUDA device(s) visible";
      } catch (NativeException e) {
        nativeInfo = "unavailable: " + e.getMessage();
      }
      return new String[] {"worker-runtime " + version, "native library: " + nativeInfo};
    }
  }
}

package dev.moe.placement.cli;

import dev.moe.placement.bench.PlacementBenchmark;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

@Command(
    name = "bench",
    sortOptions = false,
    defaultValueProvider = Converters.SolverDefaults.class,
    description = "Benchmarks the solver against EPLB on the repository's routing statistics and prints Markdown tables.")
final class BenchCommand implements Callable<Integer> {

  private static final Path DATA = Path.of("data", "routing");

  @Mixin PlacementCli.HelpOption help;

  @ParentCommand PlacementCli cli;

  @Option(names = "--data", paramLabel = "DIR",
      description = "The routing data directory (default: data/routing in the current directory or the nearest parent that has it: the repository's).")
  Path data;

  @Option(names = "--time-limit", paramLabel = "TIME", converter = Converters.DurationConverter.class,
      description = "Wall time per solve: 10s, 500ms, 2m or seconds (default: ${DEFAULT-VALUE}).")
  Duration timeLimit;

  @Option(names = "--quick", description = "One file and cluster per table.")
  boolean quick;

  @Override
  public Integer call() {
    Path dir = data != null ? data : defaultData(Path.of("").toAbsolutePath());
    if (!Files.isDirectory(dir)) {
      throw new IllegalArgumentException("--data " + dir + " is not a directory");
    }
    PlacementBenchmark.run(dir, timeLimit, quick, cli.out);
    return 0;
  }

  /** {@code data/routing} in {@code cwd} or its nearest ancestor that has it. */
  static Path defaultData(Path cwd) {
    for (Path dir = cwd; dir != null; dir = dir.getParent()) {
      Path candidate = dir.resolve(DATA);
      if (Files.isDirectory(candidate)) {
        return candidate;
      }
    }
    throw new IllegalArgumentException("no routing data found beside " + cwd
        + " or any of its parents (looked for data/routing): give --data DIR");
  }
}

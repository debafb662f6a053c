package dev.moe.runtime.cli;

import dev.moe.placement.ClusterSpec;
import dev.moe.placement.Placement;
import dev.moe.placement.PlacementJson;
import dev.moe.placement.baseline.EplbPlacer;
import dev.moe.runtime.replay.ReplayRunner;
import dev.moe.stats.RoutingStats;
import dev.moe.stats.RoutingStatsReader;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

/**
 * {@code replay}: drives a worker group with routing drawn from routing statistics (forced, past
 * the routers) through the real dispatch, compute and combine path, and reports step times and
 * load per worker for a placement and, in the same run, for a baseline computed from the same
 * statistics.
 */
@Command(
    name = "replay",
    mixinStandardHelpOptions = true,
    description = "Replays routing drawn from statistics on a worker group; compares placements' step times.")
public final class ReplayCommand implements Callable<Integer> {

  /** The baseline placement replayed beside --placement. */
  public enum Baseline {
    EPLB,
    NONE;

    @Override
    public String toString() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  @ParentCommand WorkerCli parent;

  @Option(names = "--stats", required = true, paramLabel = "S.json",
      description = "Routing statistics (SGLang's logical_count, or any format the solver reads).")
  Path stats;

  @Option(names = "--placement", required = true, paramLabel = "P.json",
      description = "The placement to replay (e.g. from bin/placement-solver solve), one GPU per worker.")
  Path placement;

  @Option(names = "--baseline", defaultValue = "eplb", paramLabel = "eplb|none",
      description = "Also replay this placement, computed from the same statistics with the same slots per GPU"
          + " (default: ${DEFAULT-VALUE}).")
  Baseline baseline;

  @Option(names = "--workers", defaultValue = "4", paramLabel = "N",
      description = "Workers (GPUs of the placement) (default: ${DEFAULT-VALUE}).")
  int workers;

  @Option(names = "--tokens-per-step", defaultValue = "256", paramLabel = "T",
      description = "Tokens per step over the whole group (default: ${DEFAULT-VALUE}).")
  int tokensPerStep;

  @Option(names = "--steps", defaultValue = "40", paramLabel = "N",
      description = "Measured steps per placement and round (default: ${DEFAULT-VALUE}).")
  int steps;

  @Option(names = "--warmup", defaultValue = "3", paramLabel = "N",
      description = "Unmeasured steps after each switch (default: ${DEFAULT-VALUE}).")
  int warmup;

  @Option(names = "--rounds", defaultValue = "2", paramLabel = "N",
      description = "Rounds over the placements, alternating (default: ${DEFAULT-VALUE}).")
  int rounds;

  @Option(names = "--layers", paramLabel = "L,L,...|all",
      description = "Layers to replay; default: 8 MoE layers spread over the model.")
  String layers;

  @Option(names = "--top-k", defaultValue = "8", paramLabel = "K",
      description = "Experts per token (DeepSeek-V3: 8) (default: ${DEFAULT-VALUE}).")
  int topK;

  @Option(names = "--hidden", defaultValue = "256", paramLabel = "H",
      description = "Hidden size of the synthetic experts, scaled down from the model's (default: ${DEFAULT-VALUE}).")
  int hidden;

  @Option(names = "--inter", defaultValue = "128", paramLabel = "I",
      description = "Intermediate size of the synthetic experts (default: ${DEFAULT-VALUE}).")
  int inter;

  @Option(names = "--threads", defaultValue = "1", paramLabel = "N",
      description = "CPU threads per worker (default: ${DEFAULT-VALUE}).")
  int threads;

  @Option(names = "--seed", defaultValue = "1", paramLabel = "N",
      description = "Seed of the weights and the trace (default: ${DEFAULT-VALUE}).")
  long seed;

  @Override
  public Integer call() {
    if (workers < 1 || tokensPerStep < 1 || steps < 1 || warmup < 0 || rounds < 1 || topK < 1 || hidden < 1
        || inter < 1 || threads < 1) {
      throw new IllegalArgumentException("--workers, --tokens-per-step, --steps, --rounds, --top-k, --hidden, --inter"
          + " and --threads must be at least 1, --warmup at least 0");
    }
    RoutingStats s = RoutingStatsReader.read(stats);
    if (topK > s.experts()) {
      throw new IllegalArgumentException("--top-k " + topK + " is more than the statistics' " + s.experts()
          + " experts");
    }
    Placement p = PlacementJson.read(placement, s.experts(), 0);
    int[] replayed = layers(s);
    List<ReplayRunner.Candidate> candidates = new ArrayList<>();
    candidates.add(new ReplayRunner.Candidate(placement.getFileName().toString(), p));
    if (baseline == Baseline.EPLB) {
      Placement eplb = new EplbPlacer(EplbPlacer.Mode.GLOBAL, 1)
          .place(s, new ClusterSpec(workers, workers, p.slotsPerGpu()));
      candidates.add(new ReplayRunner.Candidate("eplb", eplb));
    }
    ReplayRunner.Options o = new ReplayRunner.Options(workers, tokensPerStep, steps, warmup, rounds, replayed, topK,
        hidden, inter, seed, threads);
    PrintStream out = parent.out;
    out.printf("replay %s: %d workers x %d slots, layers %s (%d of %d MoE layers), %d tokens/step, top-%d,"
            + " hidden %d, inter %d, %d threads/worker, %d steps x %d rounds per placement%n",
        stats.getFileName(), workers, p.slotsPerGpu(), Arrays.toString(replayed), replayed.length,
        IntStream.range(0, s.layers()).filter(l -> !s.isDense(l)).count(), tokensPerStep, topK, hidden, inter,
        threads, steps, rounds);
    List<ReplayRunner.Result> results = ReplayRunner.run(s, candidates, o);
    out.printf("%-28s %9s %9s %13s %9s %9s  %s  %s%n", "placement", "step p50", "step p90", "slowest p50",
        "max/mean", "expected", "rows/step per worker", "kernel CPU ms/step per worker");
    for (ReplayRunner.Result r : results) {
      out.printf(Locale.ROOT, "%-28s %7.2fms %7.2fms %11.2fms %9.3f %9.3f  %s  %s%n", r.name(), r.medianMs(),
          r.p90Ms(), r.slowestComputeMs(), r.maxMeanRows(), r.expectedMaxMean(), format(r.rowsPerStep(), "%.0f"),
          format(r.computeMsPerStep(), "%.2f"));
    }
    out.println("step p50/p90: wall time of a step on this machine (workers share its cores); slowest p50: median"
        + " over steps of the slowest worker's expert-kernel CPU time (what a core or GPU per worker would wait for);"
        + " max/mean: rows of the busiest worker over the mean (measured; expected from the statistics)");
    return 0;
  }

  private int[] layers(RoutingStats s) {
    int[] moe = IntStream.range(0, s.layers()).filter(l -> !s.isDense(l)).toArray();
    if (layers == null) {
      int n = Math.min(8, moe.length);
      return IntStream.range(0, n).map(i -> moe[(int) ((long) i * moe.length / n)]).toArray();
    }
    if (layers.strip().equals("all")) {
      return moe;
    }
    try {
      return Arrays.stream(layers.split(",")).map(String::strip).mapToInt(Integer::parseInt).distinct().toArray();
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("--layers takes layer indices separated by commas, or 'all'; got '" + layers
          + "'");
    }
  }

  private static String format(double[] values, String fmt) {
    return Arrays.stream(values).mapToObj(v -> String.format(Locale.ROOT, fmt, v))
        .collect(Collectors.joining(" ", "[", "]"));
  }
}

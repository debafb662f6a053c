package dev.moe.runtime.replay;

import dev.moe.placement.ClusterSpec;
import dev.moe.placement.Placement;
import dev.moe.placement.PlacementEvaluator;
import dev.moe.runtime.nativelib.BackendChoice;
import dev.moe.runtime.parallel.LocalGroup;
import dev.moe.runtime.parallel.WorkerGroup;
import dev.moe.runtime.parallel.WorkerOptions;
import dev.moe.runtime.rebalance.SlotTable;
import dev.moe.stats.RoutingStats;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Trace replay: drives a worker group (in-process workers over TCP loopback) with routing drawn
 * from statistics, forced through the real dispatch, compute and combine path, to measure what a
 * placement does to step time. All candidate placements run in one group, one after the other
 * (switched live), on the very same trace and weights, in alternating rounds so that drift of the
 * machine's speed falls on all of them alike.
 *
 * <p>On a machine with fewer cores than workers, the workers take turns on the cores and wall step
 * time hides the imbalance. With one CPU thread per worker, the CPU time of a worker's expert
 * kernels is its work whatever shares the cores; the slowest worker's per step is what the
 * placement changes and what a dedicated core (or GPU) per worker would wait for. Both are
 * reported.
 */
public final class ReplayRunner {

  /**
   * @param layers the statistics' layers to replay (MoE layers: not all-zero rows)
   * @param threads CPU threads per worker
   */
  public record Options(int workers, int tokensPerStep, int steps, int warmup, int rounds, int[] layers, int topK,
      int hidden, int inter, long seed, int threads) {}

  public record Candidate(String name, Placement placement) {}

  /**
   * One placement's figures over its measured steps.
   *
   * @param rowsPerStep per worker, the mean rows it computed per step (all replayed layers)
   * @param maxMeanRows max over workers of their total rows / the mean
   * @param expectedMaxMean the same ratio predicted from the statistics and the placement's shares
   * @param computeMsPerStep per worker, the mean CPU time of its expert kernels per step
   * @param slowestComputeMs median over steps of the slowest worker's kernel CPU time
   */
  public record Result(String name, int steps, double medianMs, double p90Ms, double[] rowsPerStep,
      double maxMeanRows, double expectedMaxMean, double[] computeMsPerStep, double slowestComputeMs) {}

  private ReplayRunner() {}

  public static List<Result> run(RoutingStats stats, List<Candidate> candidates, Options o) {
    for (int l : o.layers()) {
      if (l < 0 || l >= stats.layers() || stats.isDense(l)) {
        throw new IllegalArgumentException("layer " + l + " cannot be replayed: the statistics have layers 0.."
            + (stats.layers() - 1) + " and all-zero (dense) rows carry no routing");
      }
    }
    SyntheticModel model = new SyntheticModel(stats.layers(), o.layers(), stats.experts(), o.topK(), o.hidden(),
        o.inter(), o.seed());
    for (Candidate c : candidates) {
      SlotTable.of(1, c.placement(), 0, o.workers(), stats.layers(), stats.experts(), model::isMoeLayer, c.name());
    }
    Trace trace = Trace.draw(stats, o);
    WorkerOptions options = WorkerOptions.defaults().withBackend(BackendChoice.CPU, o.threads())
        .withLimits(Math.max(1 << 16, o.tokensPerStep()), Math.max(1 << 20, o.tokensPerStep() * o.topK()));
    List<List<WorkerGroup.StepOutput>> measured = new ArrayList<>();
    candidates.forEach(c -> measured.add(new ArrayList<>()));
    try (LocalGroup local = LocalGroup.start(o.workers(), model, candidates.getFirst().placement(), options)) {
      WorkerGroup group = local.group();
      for (int round = 0; round < o.rounds(); round++) {
        for (int c = 0; c < candidates.size(); c++) {
          if (round > 0 || c > 0) {
            group.switchPlacement(candidates.get(c).placement(), 1L << 30).join();
          }
          for (int s = 0; s < o.warmup(); s++) {
            runStep(group, trace, s % o.steps(), o);
          }
          for (int s = 0; s < o.steps(); s++) {
            measured.get(c).add(runStep(group, trace, s, o));
          }
        }
      }
    }
    List<Result> results = new ArrayList<>();
    for (int c = 0; c < candidates.size(); c++) {
      results.add(summarise(candidates.get(c), measured.get(c), stats, o));
    }
    return results;
  }

  /** The batches and routings of every step, drawn once and replayed for each placement. */
  private record Trace(float[][] x, int[][][] ids, float[][][] weights) {
    static Trace draw(RoutingStats stats, Options o) {
      TraceGenerator gen = new TraceGenerator(stats, o.layers(), o.topK(), o.seed());
      SplittableRandom random = new SplittableRandom(o.seed() + 1);
      int n = o.tokensPerStep();
      float[][] x = new float[o.steps()][n * o.hidden()];
      int[][][] ids = new int[o.steps()][o.layers().length][n * o.topK()];
      float[][][] weights = new float[o.steps()][o.layers().length][n * o.topK()];
      for (int s = 0; s < o.steps(); s++) {
        for (int i = 0; i < x[s].length; i++) {
          x[s][i] = (float) random.nextGaussian();
        }
        for (int l = 0; l < o.layers().length; l++) {
          gen.draw(l, n, ids[s][l], weights[s][l]);
        }
      }
      return new Trace(x, ids, weights);
    }
  }

  private static WorkerGroup.StepOutput runStep(WorkerGroup group, Trace trace, int s, Options o) {
    return group.step(trace.x()[s], o.tokensPerStep(), o.layers(), o.topK(), trace.ids()[s], trace.weights()[s])
        .join();
  }

  private static Result summarise(Candidate c, List<WorkerGroup.StepOutput> steps, RoutingStats stats, Options o) {
    int w = o.workers();
    double[] wall = steps.stream().mapToDouble(s -> s.nanos() / 1e6).sorted().toArray();
    double[] slowest = steps.stream()
        .mapToDouble(s -> Arrays.stream(s.cpuNanosPerWorker()).max().orElse(0) / 1e6).sorted().toArray();
    double[] rows = new double[w];
    double[] compute = new double[w];
    for (WorkerGroup.StepOutput s : steps) {
      for (int g = 0; g < w; g++) {
        rows[g] += (double) s.rowsPerWorker()[g] / steps.size();
        compute[g] += s.cpuNanosPerWorker()[g] / 1e6 / steps.size();
      }
    }
    double mean = Arrays.stream(rows).average().orElse(0);
    double max = Arrays.stream(rows).max().orElse(0);
    return new Result(c.name(), steps.size(), percentile(wall, 50), percentile(wall, 90), rows,
        mean == 0 ? 1 : max / mean, expectedMaxMean(stats, c.placement(), o), compute, percentile(slowest, 50));
  }

  /** Sum over the replayed layers of the most loaded GPU's expected load, over the sum of the means. */
  static double expectedMaxMean(RoutingStats stats, Placement p, Options o) {
    ClusterSpec cluster = new ClusterSpec(o.workers(), o.workers(), p.slotsPerGpu());
    double max = 0;
    double mean = 0;
    for (int l : o.layers()) {
      double[] load = PlacementEvaluator.gpuLoads(stats.load(l), p.physicalToLogical()[l], p.replicaShares()[l],
          cluster);
      max += Arrays.stream(load).max().orElse(0);
      mean += Arrays.stream(load).average().orElse(0);
    }
    return mean == 0 ? 1 : max / mean;
  }

  static double percentile(double[] sorted, double p) {
    if (sorted.length == 0) {
      return Double.NaN;
    }
    return sorted[(int) Math.min(sorted.length - 1, Math.max(0, Math.ceil(p / 100 * sorted.length) - 1))];
  }
}

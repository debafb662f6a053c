package dev.moe.placement.solve;

import com.google.ortools.Loader;
import com.google.ortools.sat.CpModel;
import com.google.ortools.sat.CpSolver;
import com.google.ortools.sat.CpSolverStatus;
import com.google.ortools.sat.IntVar;
import com.google.ortools.sat.LinearExpr;
import com.google.ortools.sat.LinearExprBuilder;
import dev.moe.placement.ClusterSpec;
import java.time.Duration;
import java.util.Arrays;
import java.util.Comparator;

/**
 * One layer as a CP-SAT model, solved to optimality where it fits in the time limit.
 *
 * <p>Variables count replicas per (expert, GPU) rather than naming each slot, plus the load each
 * GPU takes of each expert; GPUs are ordered by load to cut their symmetry, and the warm start is
 * renumbered to match. Loads are scaled to integers; the bound read back is corrected for that
 * rounding so it stays a proven bound.
 */
final class ExactLayerModel {

  /** Fits: the model has at most this many (expert, GPU) pairs. */
  static final int MAX_PAIRS = 2048;

  /** Total layer load in integer units after scaling. */
  private static final double SCALE = 1e9;

  /**
   * @param map the best slot map found (the hint when nothing better was)
   * @param maxLoadLowerBound proven lower bound on the max GPU load (0 when unknown)
   */
  record Result(int[] map, double maxLoadLowerBound) {}

  static {
    Loader.loadNativeLibraries();
  }

  private final double[] load;
  private final ClusterSpec cluster;
  private final double unit;

  ExactLayerModel(double[] load, ClusterSpec cluster) {
    this.load = load;
    this.cluster = cluster;
    double total = 0;
    for (double w : load) {
      total += w;
    }
    this.unit = total / SCALE;
  }

  static boolean fits(int experts, ClusterSpec cluster) {
    return (long) experts * cluster.gpus() <= MAX_PAIRS;
  }

  /** Minimizes the max GPU load, starting from {@code hint}. */
  Result minimizeMaxLoad(int[] hint, double[] hintShares, Duration limit) {
    int experts = load.length;
    int gpus = cluster.gpus();
    int slotsPerGpu = cluster.slotsPerGpu();
    long[] w = new long[experts];
    long scaledTotal = 0;
    for (int e = 0; e < experts; e++) {
      w[e] = Math.round(load[e] / unit);
      scaledTotal += w[e];
    }
    // Data: the hint, reordered so GPUs go by falling load as the symmetry cut demands.
    int[][] hintCount = new int[experts][gpus];
    long[][] hintLoad = new long[experts][gpus];
    int[] order = gpuRankByLoad(hint, hintShares, load, gpus, slotsPerGpu);
    for (int s = 0; s < hint.length; s++) {
      int g = order[s / slotsPerGpu];
      hintCount[hint[s]][g]++;
      hintLoad[hint[s]][g] += Math.round(hintShares[s] * w[hint[s]]);
    }
    fixRounding(hintLoad, w);

    // Variables.
    CpModel model = new CpModel();
    IntVar[][] count = new IntVar[experts][gpus];
    IntVar[][] part = new IntVar[experts][gpus];
    for (int e = 0; e < experts; e++) {
      for (int g = 0; g < gpus; g++) {
        count[e][g] = model.newIntVar(0, slotsPerGpu, "n_" + e + "_" + g);
        part[e][g] = model.newIntVar(0, w[e], "y_" + e + "_" + g);
        model.addHint(count[e][g], hintCount[e][g]);
        model.addHint(part[e][g], hintLoad[e][g]);
      }
    }
    IntVar maxVar = model.newIntVar(0, scaledTotal, "max_load");

    // Constraints: slots per GPU, every expert placed and its load spread over its replicas.
    LinearExpr[] gpuLoad = new LinearExpr[gpus];
    for (int g = 0; g < gpus; g++) {
      LinearExprBuilder slots = LinearExpr.newBuilder();
      LinearExprBuilder loadOnGpu = LinearExpr.newBuilder();
      for (int e = 0; e < experts; e++) {
        slots.add(count[e][g]);
        loadOnGpu.add(part[e][g]);
        // No load without a replica: part <= w * count (count <= slots keeps this tight enough).
        model.addLessOrEqual(part[e][g], LinearExpr.term(count[e][g], w[e]));
      }
      model.addEquality(slots, slotsPerGpu);
      gpuLoad[g] = loadOnGpu.build();
      model.addLessOrEqual(gpuLoad[g], maxVar);
    }
    // GPUs are interchangeable: order them by load.
    for (int g = 0; g + 1 < gpus; g++) {
      model.addGreaterOrEqual(gpuLoad[g], gpuLoad[g + 1]);
    }
    for (int e = 0; e < experts; e++) {
      LinearExprBuilder replicas = LinearExpr.newBuilder();
      LinearExprBuilder spread = LinearExpr.newBuilder();
      for (int g = 0; g < gpus; g++) {
        replicas.add(count[e][g]);
        spread.add(part[e][g]);
      }
      model.addGreaterOrEqual(replicas, 1);
      model.addEquality(spread, w[e]);
    }

    // Objective.
    model.minimize(maxVar);

    // Solve.
    CpSolver solver = new CpSolver();
    solver.getParameters().setMaxTimeInSeconds(Math.max(0.05, limit.toNanos() / 1e9));
    solver.getParameters().setNumWorkers(1);
    solver.getParameters().setRandomSeed(7);
    CpSolverStatus status = solver.solve(model);

    // Read back.
    if (status != CpSolverStatus.OPTIMAL && status != CpSolverStatus.FEASIBLE) {
      return new Result(hint, 0);
    }
    int[] map = new int[hint.length];
    int[] next = new int[gpus];
    for (int g = 0; g < gpus; g++) {
      next[g] = g * slotsPerGpu;
    }
    for (int e = 0; e < experts; e++) {
      for (int g = 0; g < gpus; g++) {
        for (long k = solver.value(count[e][g]); k > 0; k--) {
          map[next[g]++] = e;
        }
      }
    }
    // Each GPU's load may be off by half a unit per expert from rounding the loads.
    double bound = Math.max(0, (solver.bestObjectiveBound() - 0.5 * experts) * unit);
    return new Result(map, bound);
  }

  /** Makes each expert's hinted parts add up to its scaled load exactly. */
  private static void fixRounding(long[][] parts, long[] w) {
    for (int e = 0; e < w.length; e++) {
      long sum = 0;
      int biggest = 0;
      for (int g = 0; g < parts[e].length; g++) {
        sum += parts[e][g];
        if (parts[e][g] > parts[e][biggest]) {
          biggest = g;
        }
      }
      parts[e][biggest] += w[e] - sum;
    }
  }

  /** The hint's GPUs renumbered by falling load, as the symmetry cut expects: {@code result[oldGpu]}. */
  private static int[] gpuRankByLoad(int[] map, double[] shares, double[] load, int gpus, int slotsPerGpu) {
    double[] gpuLoad = new double[gpus];
    for (int s = 0; s < map.length; s++) {
      gpuLoad[s / slotsPerGpu] += shares[s] * load[map[s]];
    }
    Integer[] byLoad = new Integer[gpus];
    for (int g = 0; g < gpus; g++) {
      byLoad[g] = g;
    }
    Arrays.sort(byLoad, Comparator.comparingDouble(g -> -gpuLoad[g]));
    int[] rank = new int[gpus];
    for (int r = 0; r < gpus; r++) {
      rank[byLoad[r]] = r;
    }
    return rank;
  }
}

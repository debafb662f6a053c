package dev.moe.placement.colocation;

import dev.moe.placement.ClusterSpec;
import dev.moe.placement.Placement;
import dev.moe.stats.RoutingStats;
import java.util.SplittableRandom;

/**
 * A fast local search for the colocation problem of {@link ColocationModel}: swaps of two replicas
 * of one layer between GPUs, under simulated annealing, for a {@link ColocationObjective} (max GPU
 * loads with the replicas' shares). Every replica keeps its share and an expert
 * keeps at most one replica per GPU, so the kept transitions are exactly those the evaluator counts.
 *
 * <p>Per replica and GPU it keeps the transitions the replica would keep there ({@code near}), so a
 * swap is scored in O(1) and applied in O(slots of the neighbouring layers).
 */
public final class ColocationSearch {

  /** Starting temperature, as a fraction of the mean transition weight per replica. */
  private static final double START_TEMPERATURE = 0.3;

  private final ClusterSpec cluster;
  private final Placement start;
  private final Linked linked;
  private final int[][] gpuOf;
  private final double[][] replicaLoad;
  private final double[][] gpuLoad;
  private final int[][][] expertsOnGpu;
  /** {@code near[i][s][g]}: transitions replica s of linked layer i keeps if it sits on GPU g. */
  private final double[][][] near;

  private ColocationSearch(RoutingStats stats, ClusterSpec cluster, Placement start) {
    this.cluster = cluster;
    this.start = start;
    this.linked = Linked.of(stats, start, cluster);
    int layers = linked.layers().length;
    int slots = cluster.slots();
    int gpus = cluster.gpus();
    gpuOf = new int[layers][slots];
    replicaLoad = new double[layers][slots];
    gpuLoad = new double[layers][gpus];
    expertsOnGpu = new int[layers][stats.experts()][gpus];
    near = new double[layers][slots][gpus];
    for (int i = 0; i < layers; i++) {
      int layer = linked.layers()[i];
      for (int s = 0; s < slots; s++) {
        int g = cluster.gpuOfSlot(s);
        gpuOf[i][s] = g;
        replicaLoad[i][s] = start.replicaShares()[layer][s] * stats.load(layer)[start.physicalToLogical()[layer][s]];
        gpuLoad[i][g] += replicaLoad[i][s];
        expertsOnGpu[i][start.physicalToLogical()[layer][s]][g]++;
      }
    }
    for (Linked.Pair pair : linked.pairs()) {
      for (int p = 0; p < slots; p++) {
        for (int q = 0; q < slots; q++) {
          double w = pair.weight()[p][q];
          near[pair.a()][p][gpuOf[pair.b()][q]] += w;
          near[pair.b()][q][gpuOf[pair.a()][p]] += w;
        }
      }
    }
  }

  /**
   * The start with the linked layers' replicas moved between GPUs for a better {@code objective};
   * the start itself if it breaks the objective's load limit or has two replicas of an expert on
   * one GPU.
   */
  public static Placement improve(RoutingStats stats, ClusterSpec cluster, Placement start,
      ColocationObjective objective, long deadline, long seed) {
    ColocationSearch search = new ColocationSearch(stats, cluster, start);
    if (search.linked.layers().length == 0) {
      return start;
    }
    search.separateReplicas();
    if (!search.feasible(objective.maxLoadSum())) {
      return start;
    }
    return search.anneal(objective, deadline, new SplittableRandom(seed));
  }

  /** The objective's value for {@code placement}; minus infinity where it breaks the load limit. */
  public static double score(RoutingStats stats, ClusterSpec cluster, Placement placement,
      ColocationObjective objective) {
    ColocationSearch search = new ColocationSearch(stats, cluster, placement);
    return search.feasible(objective.maxLoadSum())
        ? objective.score(search.kept(), search.maxLoadSum())
        : Double.NEGATIVE_INFINITY;
  }

  /**
   * Where a GPU holds two replicas of one expert (EPLB's plan may), one of them swaps with a replica
   * on another GPU that neither expert is on yet.
   */
  private void separateReplicas() {
    for (int i = 0; i < gpuOf.length; i++) {
      int[] map = start.physicalToLogical()[linked.layers()[i]];
      for (int s1 = 0; s1 < map.length; s1++) {
        int g1 = gpuOf[i][s1];
        if (expertsOnGpu[i][map[s1]][g1] < 2) {
          continue;
        }
        for (int s2 = 0; s2 < map.length; s2++) {
          int g2 = gpuOf[i][s2];
          if (g2 != g1 && expertsOnGpu[i][map[s1]][g2] == 0 && expertsOnGpu[i][map[s2]][g1] == 0) {
            double moved = replicaLoad[i][s1] - replicaLoad[i][s2];
            gpuLoad[i][g1] -= moved;
            gpuLoad[i][g2] += moved;
            move(i, s1, g1, g2, map[s1]);
            move(i, s2, g2, g1, map[s2]);
            break;
          }
        }
      }
    }
  }

  private boolean feasible(double maxLoadSum) {
    for (int[][] experts : expertsOnGpu) {
      for (int[] onGpu : experts) {
        for (int n : onGpu) {
          if (n > 1) {
            return false;
          }
        }
      }
    }
    return maxLoadSum() <= maxLoadSum;
  }

  private double kept() {
    double kept = 0;
    for (int i = 0; i < gpuOf.length; i++) {
      for (int s = 0; s < gpuOf[i].length; s++) {
        kept += near[i][s][gpuOf[i][s]];
      }
    }
    // Each kept transition is seen from both of its ends.
    return kept / 2;
  }

  private double maxLoadSum() {
    double sum = 0;
    for (double[] loads : gpuLoad) {
      sum += max(loads);
    }
    return sum;
  }

  private Placement anneal(ColocationObjective objective, long deadline, SplittableRandom random) {
    int layers = gpuOf.length;
    int slots = cluster.slots();
    double loadSum = maxLoadSum();
    double current = objective.score(kept(), loadSum);
    double best = current;
    int[][] bestGpuOf = copy(gpuOf);
    // Temperatures in units of the transitions a replica keeps, on average.
    double scale = Math.max(1e-12, 2 * kept() / (layers * (double) slots));
    long begin = System.nanoTime();
    double span = Math.max(1, deadline - begin);
    double temperature = START_TEMPERATURE * scale;
    for (long step = 0; ; step++) {
      if ((step & 1023) == 0) {
        long now = System.nanoTime();
        if (now >= deadline) {
          break;
        }
        temperature = START_TEMPERATURE * scale * (1 - (now - begin) / span);
      }
      int i = random.nextInt(layers);
      int s1 = random.nextInt(slots);
      int s2 = random.nextInt(slots);
      int g1 = gpuOf[i][s1];
      int g2 = gpuOf[i][s2];
      int layer = linked.layers()[i];
      int e1 = start.physicalToLogical()[layer][s1];
      int e2 = start.physicalToLogical()[layer][s2];
      if (g1 == g2 || e1 == e2 || expertsOnGpu[i][e1][g2] > 0 || expertsOnGpu[i][e2][g1] > 0) {
        continue;
      }
      double moved = replicaLoad[i][s1] - replicaLoad[i][s2];
      double oldMax = max(gpuLoad[i]);
      gpuLoad[i][g1] -= moved;
      gpuLoad[i][g2] += moved;
      double newSum = loadSum - oldMax + max(gpuLoad[i]);
      double delta = near[i][s1][g2] - near[i][s1][g1] + near[i][s2][g1] - near[i][s2][g2]
          - objective.loadPrice() * (newSum - loadSum);
      if (newSum > objective.maxLoadSum()
          || delta < 0 && (temperature <= 0 || random.nextDouble() >= Math.exp(delta / temperature))) {
        gpuLoad[i][g1] += moved;
        gpuLoad[i][g2] -= moved;
        continue;
      }
      loadSum = newSum;
      move(i, s1, g1, g2, e1);
      move(i, s2, g2, g1, e2);
      current += delta;
      if (current > best) {
        best = current;
        bestGpuOf = copy(gpuOf);
      }
    }
    return linked.arrange(start, cluster, bestGpuOf);
  }

  /** Replica s of linked layer i goes from GPU {@code from} to {@code to}; its neighbours' {@code near} follow. */
  private void move(int i, int s, int from, int to, int expert) {
    gpuOf[i][s] = to;
    expertsOnGpu[i][expert][from]--;
    expertsOnGpu[i][expert][to]++;
    for (Linked.Pair pair : linked.pairs()) {
      if (pair.a() == i) {
        for (int q = 0; q < gpuOf[pair.b()].length; q++) {
          double w = pair.weight()[s][q];
          near[pair.b()][q][from] -= w;
          near[pair.b()][q][to] += w;
        }
      } else if (pair.b() == i) {
        for (int p = 0; p < gpuOf[pair.a()].length; p++) {
          double w = pair.weight()[p][s];
          near[pair.a()][p][from] -= w;
          near[pair.a()][p][to] += w;
        }
      }
    }
  }

  private static double max(double[] values) {
    double m = 0;
    for (double v : values) {
      m = Math.max(m, v);
    }
    return m;
  }

  private static int[][] copy(int[][] a) {
    int[][] out = new int[a.length][];
    for (int i = 0; i < a.length; i++) {
      out[i] = a[i].clone();
    }
    return out;
  }
}

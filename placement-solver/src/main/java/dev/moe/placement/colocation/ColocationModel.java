package dev.moe.placement.colocation;

import com.google.ortools.Loader;
import com.google.ortools.sat.BoolVar;
import com.google.ortools.sat.CpModel;
import com.google.ortools.sat.CpSolver;
import com.google.ortools.sat.CpSolverStatus;
import com.google.ortools.sat.IntVar;
import com.google.ortools.sat.LinearExpr;
import com.google.ortools.sat.LinearExprBuilder;
import com.google.ortools.sat.Literal;
import dev.moe.placement.ClusterSpec;
import dev.moe.placement.Placement;
import dev.moe.stats.RoutingStats;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Which GPU each replica of the layers that transitions link goes to, as one CP-SAT model over all
 * those layers at once: the replicas (expert and share) of a start placement are kept, only their
 * GPUs change, each GPU keeps its slot count, and an expert has at most one replica per GPU.
 *
 * <p>A transition i -> j stays on one GPU in proportion to {@code min(share of i there, share of j
 * there)}, as {@link dev.moe.placement.PlacementEvaluator} counts it; with one replica per expert
 * per GPU that is a sum over pairs of replicas (p of i, q of j) that share a GPU, weighted by the
 * smaller share. Layers no transition names are left as they are.
 *
 * <p>Objective ({@link ColocationObjective}): the kept transitions minus a price on the linked
 * layers' max GPU loads summed (what balancedness divides by), that sum within a limit. GPUs are interchangeable across all
 * linked layers together, so the first replica is fixed on GPU 0 (the hint renumbered to match).
 */
public final class ColocationModel {

  /** Largest objective term after scaling, well inside a long when summed. */
  private static final double SCALE = 1e8;

  /** Above this many (replica pair, GPU) links the model is too large to help in a time limit. */
  public static final long MAX_LINKS = 2_000_000;

  static {
    Loader.loadNativeLibraries();
  }

  private final RoutingStats stats;
  private final ClusterSpec cluster;
  private final Placement start;
  private final Linked linked;
  private final int[] layers;
  private final double unit;
  private final int[] gpuRename;

  private final CpModel model = new CpModel();
  /** {@code place[i][s][g]}: slot s of layer {@code layers[i]} goes to GPU g. */
  private BoolVar[][][] place;
  /** The scaled transitions kept on one GPU, summed. */
  private final LinearExprBuilder kept = LinearExpr.newBuilder();

  private ColocationModel(RoutingStats stats, ClusterSpec cluster, Placement start) {
    this.stats = stats;
    this.cluster = cluster;
    this.start = start;
    this.linked = Linked.of(stats, start, cluster);
    this.layers = linked.layers();
    double largest = 0;
    for (Linked.Pair pair : linked.pairs()) {
      largest = Math.max(largest, sum(pair.weight()));
    }
    for (int layer : layers) {
      largest = Math.max(largest, sum(stats.load(layer)));
    }
    this.unit = largest == 0 ? 1 : largest / SCALE;
    this.gpuRename = layers.length == 0 ? null : firstReplicaOnGpuZero();
  }

  /** Whether the model for these statistics stays small enough to solve. */
  public static boolean fits(RoutingStats stats, ClusterSpec cluster) {
    long links = (long) stats.transitions().size() * cluster.slots() * cluster.slots() * cluster.gpus();
    return links <= MAX_LINKS;
  }

  /**
   * The best arrangement of {@code start}'s replicas for {@code objective} found in the time limit;
   * {@code start} where none was found.
   */
  public static Placement solve(RoutingStats stats, ClusterSpec cluster, Placement start,
      ColocationObjective objective, Duration limit, int threads) {
    ColocationModel m = new ColocationModel(stats, cluster, start);
    if (m.layers.length == 0) {
      return start;
    }
    m.placeReplicas();
    m.linkTransitions();
    LinearExpr maxLoads = m.maxLoads();
    if (objective.maxLoadSum() < Double.POSITIVE_INFINITY) {
      // Half a unit of rounding per replica, so that a start right at the limit stays a solution.
      long slack = (long) m.layers.length * cluster.slots();
      m.model.addLessOrEqual(maxLoads, (long) Math.floor(objective.maxLoadSum() / m.unit) + slack);
    }
    m.model.maximize(LinearExpr.weightedSum(
        new LinearExpr[] {m.kept.build(), maxLoads}, new long[] {1, -objective.loadPrice()}));
    return m.solve(limit, threads);
  }

  /** The linked layers' scaled max GPU loads, summed (one variable per layer). */
  private LinearExpr maxLoads() {
    LinearExprBuilder sum = LinearExpr.newBuilder();
    for (int i = 0; i < layers.length; i++) {
      IntVar maxLoad = model.newIntVar(0, Math.round(2 * SCALE), "max_load_" + layers[i]);
      for (LinearExpr load : gpuLoads(i)) {
        model.addLessOrEqual(load, maxLoad);
      }
      sum.add(maxLoad);
    }
    return sum.build();
  }

  /** Hint GPUs renumbered so that the first linked layer's slot 0 sits on GPU 0. */
  private int[] firstReplicaOnGpuZero() {
    int gpus = cluster.gpus();
    int[] rename = new int[gpus];
    for (int g = 0; g < gpus; g++) {
      rename[g] = g;
    }
    int first = cluster.gpuOfSlot(0);
    rename[first] = 0;
    rename[0] = first;
    return rename;
  }

  /** Step 1: each slot's replica on one GPU, with the start as the hint; slot counts; one replica per GPU. */
  private void placeReplicas() {
    int gpus = cluster.gpus();
    int slots = cluster.slots();
    place = new BoolVar[layers.length][slots][gpus];
    for (int i = 0; i < layers.length; i++) {
      int[] map = start.physicalToLogical()[layers[i]];
      for (int s = 0; s < slots; s++) {
        int hinted = gpuRename[cluster.gpuOfSlot(s)];
        for (int g = 0; g < gpus; g++) {
          place[i][s][g] = model.newBoolVar("x_" + layers[i] + "_" + s + "_" + g);
          model.addHint(place[i][s][g], g == hinted ? 1 : 0);
        }
        model.addExactlyOne(place[i][s]);
      }
      for (int g = 0; g < gpus; g++) {
        LinearExprBuilder onGpu = LinearExpr.newBuilder();
        for (int s = 0; s < slots; s++) {
          onGpu.add(place[i][s][g]);
        }
        model.addEquality(onGpu, cluster.slotsPerGpu());
      }
      // Two replicas of one expert on one GPU would serve nothing a single one could not.
      int[] replicas = new int[stats.experts()];
      for (int e : map) {
        replicas[e]++;
      }
      for (int e = 0; e < replicas.length; e++) {
        if (replicas[e] < 2) {
          continue;
        }
        for (int g = 0; g < gpus; g++) {
          List<Literal> ofExpert = new ArrayList<>();
          for (int s = 0; s < slots; s++) {
            if (map[s] == e) {
              ofExpert.add(place[i][s][g]);
            }
          }
          model.addAtMostOne(ofExpert);
        }
      }
    }
    // Symmetry: GPUs are interchangeable across the linked layers together.
    model.addEquality(place[0][0][0], 1);
  }

  /**
   * Step 2: per linked pair, per replica q of the later layer and GPU g, the transitions into q that
   * stay on g: at most those from the replicas p on g ({@code sum_p weight(p, q) x[p][g]}), and
   * none unless q is on g. Far fewer variables than a boolean per replica pair, and as exact.
   */
  private void linkTransitions() {
    int gpus = cluster.gpus();
    for (Linked.Pair pair : linked.pairs()) {
      int a = pair.a();
      int b = pair.b();
      for (int q = 0; q < cluster.slots(); q++) {
        long[] weight = new long[cluster.slots()];
        long into = 0;
        for (int p = 0; p < weight.length; p++) {
          weight[p] = Math.round(pair.weight()[p][q] / unit);
          into += weight[p];
        }
        if (into == 0) {
          continue;
        }
        for (int g = 0; g < gpus; g++) {
          IntVar stay = model.newIntVar(0, into, "k_" + layers[b] + "_" + q + "_" + g);
          LinearExprBuilder fromG = LinearExpr.newBuilder();
          long hinted = 0;
          for (int p = 0; p < weight.length; p++) {
            if (weight[p] > 0) {
              fromG.addTerm(place[a][p][g], weight[p]);
              hinted += gpuRename[cluster.gpuOfSlot(p)] == g ? weight[p] : 0;
            }
          }
          model.addLessOrEqual(stay, fromG);
          model.addLessOrEqual(stay, LinearExpr.term(place[b][q][g], into));
          model.addHint(stay, gpuRename[cluster.gpuOfSlot(q)] == g ? hinted : 0);
          kept.add(stay);
        }
      }
    }
  }

  /** Each GPU's scaled load in linked layer {@code i}, with the replicas' own shares. */
  private LinearExpr[] gpuLoads(int i) {
    int layer = layers[i];
    int[] map = start.physicalToLogical()[layer];
    double[] shares = start.replicaShares()[layer];
    double[] load = stats.load(layer);
    LinearExpr[] out = new LinearExpr[cluster.gpus()];
    for (int g = 0; g < cluster.gpus(); g++) {
      LinearExprBuilder onGpu = LinearExpr.newBuilder();
      for (int s = 0; s < map.length; s++) {
        onGpu.addTerm(place[i][s][g], Math.round(shares[s] * load[map[s]] / unit));
      }
      out[g] = onGpu.build();
    }
    return out;
  }

  /** Step 3: solve and move each replica, with its share, to the GPU the model chose. */
  private Placement solve(Duration limit, int threads) {
    CpSolver solver = new CpSolver();
    solver.getParameters().setMaxTimeInSeconds(Math.max(0.05, limit.toNanos() / 1e9));
    solver.getParameters().setNumWorkers(threads);
    solver.getParameters().setRandomSeed(7);
    CpSolverStatus status = solver.solve(model);
    if (status != CpSolverStatus.OPTIMAL && status != CpSolverStatus.FEASIBLE) {
      return start;
    }
    int[][] gpuOf = new int[layers.length][cluster.slots()];
    for (int i = 0; i < layers.length; i++) {
      for (int s = 0; s < cluster.slots(); s++) {
        for (int g = 0; g < cluster.gpus(); g++) {
          if (solver.booleanValue(place[i][s][g])) {
            gpuOf[i][s] = g;
          }
        }
      }
    }
    return linked.arrange(start, cluster, gpuOf);
  }

  private static double sum(double[] row) {
    double total = 0;
    for (double v : row) {
      total += v;
    }
    return total;
  }

  private static double sum(double[][] rows) {
    double total = 0;
    for (double[] row : rows) {
      total += sum(row);
    }
    return total;
  }
}

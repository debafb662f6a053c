package dev.moe.placement.solve;

import com.google.ortools.Loader;
import com.google.ortools.graph.LinearSumAssignment;
import dev.moe.placement.ClusterSpec;
import dev.moe.placement.Placement;
import dev.moe.placement.PlacementEvaluator;
import dev.moe.placement.colocation.Colocation;
import dev.moe.placement.colocation.ColocationObjective;
import dev.moe.placement.colocation.ColocationSearch;
import dev.moe.placement.baseline.EplbPlacer;
import dev.moe.placement.solve.PlacementSolver.LayerSolution;
import dev.moe.stats.LayerPair;
import dev.moe.stats.RoutingStats;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.function.BiFunction;

/**
 * Co-locates experts that tokens go through one after the other (ExFlow, MoETuner): with layer a
 * placed, layer b is re-placed so that a token leaving expert i on GPU g finds its next expert j on
 * g as often as the transition counts say it will.
 * Same-layer co-activation counts are used the same way, against the layer's own placement.
 *
 * <p>Transitions: GPUs are interchangeable within a layer, so the balanced layer's GPU contents are
 * first assigned to physical GPUs by a linear assignment (no balance lost); then all linked layers'
 * replicas are re-arranged together ({@link Colocation}: a swap search, then CP-SAT) for the most
 * transitions kept on one GPU, while the linked layers' max loads sum to at most {@code 1 + weight}
 * times the balanced ones. Co-activation: pairs of replicas swap GPUs, best gain first, while the
 * layer's max load stays within {@code 1 + weight} times the balanced one.
 */
final class AffinityPass {

  /** Best-gain swaps checked against the load cap per step before the climb stops. */
  private static final int CLIMB_TRIES = 64;

  /** The swap search's seed: a solve is repeatable. */
  private static final long SEED = 19;


  static {
    Loader.loadNativeLibraries();
  }

  private AffinityPass() {}

  static void apply(RoutingStats stats, ClusterSpec cluster, LayerSolution[] solved, double weight, long deadline,
      int threads) {
    long transitionsDeadline =
        stats.coactivation() == null ? deadline : System.nanoTime() + (deadline - System.nanoTime()) / 2;
    applyTransitions(stats, cluster, solved, weight, transitionsDeadline, threads);
    if (stats.coactivation() != null) {
      applyCoactivation(stats, cluster, solved, weight, deadline);
    }
  }

  /**
   * Experts that the same tokens choose together, on one GPU, take one dispatch instead of two: the
   * layer's own placement gives the reward, re-derived after each round of swaps.
   */
  private static void applyCoactivation(
      RoutingStats stats, ClusterSpec cluster, LayerSolution[] solved, double weight, long deadline) {
    int layers = stats.layers();
    for (int layer = 0; layer < layers; layer++) {
      if (stats.isDense(layer)) {
        continue;
      }
      double[] load = stats.load(layer);
      ShareBalancer balancer = new ShareBalancer(load, cluster.gpus(), cluster.slotsPerGpu());
      double cap = balancer.maxLoad(solved[layer].map()) * (1 + weight);
      long layerDeadline = System.nanoTime() + Math.max(0, deadline - System.nanoTime()) / (layers - layer);
      double[][] counts = stats.coactivation()[layer];
      // The reward depends on where the layer's own experts sit: re-derive it after every swap.
      int[] map = climb(solved[layer].map(), (m, shares) -> reward(counts, m, shares, cluster),
          balancer, cap, cluster, layerDeadline);
      solved[layer] = new LayerSolution(
          map, PlacementSolver.bestShares(load, map, cluster, balancer), solved[layer].maxLoadLowerBound());
    }
  }

  /**
   * Each linked layer's GPU contents first go to the GPUs that suit the layer before it (a linear
   * assignment, no balance lost); from there all linked layers are re-placed together.
   */
  private static void applyTransitions(RoutingStats stats, ClusterSpec cluster, LayerSolution[] solved,
      double weight, long deadline, int threads) {
    List<Map.Entry<LayerPair, double[][]>> pairs = stats.transitions().entrySet().stream()
        .sorted(Comparator.comparingInt((Map.Entry<LayerPair, double[][]> p) -> p.getKey().from()))
        .toList();
    for (Map.Entry<LayerPair, double[][]> entry : pairs) {
      LayerPair pair = entry.getKey();
      if (pair.from() >= solved.length || pair.to() >= solved.length
          || stats.isDense(pair.from()) || stats.isDense(pair.to())) {
        continue;
      }
      LayerSolution a = solved[pair.from()];
      solved[pair.to()] = permute(solved[pair.to()], reward(entry.getValue(), a.map(), a.shares(), cluster), cluster);
    }
    colocate(stats, cluster, solved, weight, deadline, threads);
  }

  /**
   * All linked layers at once ({@link Colocation}: a swap search, then CP-SAT hinted with it): the
   * most transitions kept on one GPU while the linked layers' max GPU loads sum to at most {@code 1 +
   * weight} times what they sum to now, which keeps balancedness within that factor of the
   * affinity-free plan's.
   */
  private static void colocate(RoutingStats stats, ClusterSpec cluster, LayerSolution[] solved, double weight,
      long deadline, int threads) {
    int[][] maps = new int[solved.length][];
    double[][] shares = new double[solved.length][];
    for (int l = 0; l < solved.length; l++) {
      maps[l] = solved[l].map();
      shares[l] = solved[l].shares();
    }
    Placement start = new Placement(cluster.slotsPerGpu(), maps, shares, null);
    double maxLoadSum = 0;
    for (int l = 0; l < solved.length; l++) {
      if (linked(stats, l)) {
        double max = 0;
        for (double v : PlacementEvaluator.gpuLoads(stats.load(l), maps[l], shares[l], cluster)) {
          max = Math.max(max, v);
        }
        maxLoadSum += max;
      }
    }
    ColocationObjective objective = ColocationObjective.keepTransitionsWithin(maxLoadSum * (1 + weight));
    // Which experts get the spare slots decides how many transitions can stay: EPLB's replicas
    // (equal shares) are a second start where there are spare slots and they fit the limit.
    List<Placement> starts = new ArrayList<>(List.of(start));
    if (cluster.slots() > stats.experts()) {
      starts.add(withLinkedLayersOf(stats, start, new EplbPlacer(EplbPlacer.Mode.GLOBAL, 1).place(stats, cluster)));
    }
    Placement best = start;
    double bestScore = ColocationSearch.score(stats, cluster, start, objective);
    for (int i = 0; i < starts.size(); i++) {
      long startDeadline = System.nanoTime() + Math.max(0, deadline - System.nanoTime()) / (starts.size() - i);
      Placement placed = Colocation.place(stats, cluster, starts.get(i), objective, startDeadline, threads, SEED);
      double score = ColocationSearch.score(stats, cluster, placed, objective);
      if (score > bestScore) {
        best = placed;
        bestScore = score;
      }
    }
    for (int l = 0; l < solved.length; l++) {
      solved[l] = new LayerSolution(
          best.physicalToLogical()[l], best.replicaShares()[l], solved[l].maxLoadLowerBound());
    }
  }

  /** {@code base} with the linked layers taken from {@code other}. */
  private static Placement withLinkedLayersOf(RoutingStats stats, Placement base, Placement other) {
    int[][] maps = base.physicalToLogical().clone();
    double[][] shares = base.replicaShares().clone();
    for (int l = 0; l < maps.length; l++) {
      if (linked(stats, l)) {
        maps[l] = other.physicalToLogical()[l];
        shares[l] = other.replicaShares()[l];
      }
    }
    return new Placement(base.slotsPerGpu(), maps, shares, null);
  }

  /** Whether some transition pair names this MoE layer. */
  private static boolean linked(RoutingStats stats, int layer) {
    if (stats.isDense(layer)) {
      return false;
    }
    for (LayerPair pair : stats.transitions().keySet()) {
      if (pair.from() == layer || pair.to() == layer) {
        return true;
      }
    }
    return false;
  }

  /**
   * reward[j][g]: tokens that would find expert j on GPU g, given where {@code from} serves the
   * experts they came from (or, for co-activation, chose besides j).
   */
  private static double[][] reward(double[][] counts, int[] map, double[] shares, ClusterSpec cluster) {
    int experts = counts.length;
    double[][] shareA = new double[experts][cluster.gpus()];
    for (int s = 0; s < map.length; s++) {
      shareA[map[s]][cluster.gpuOfSlot(s)] += shares[s];
    }
    double[][] reward = new double[experts][cluster.gpus()];
    for (int i = 0; i < counts.length; i++) {
      for (int j = 0; j < counts[i].length; j++) {
        if (counts[i][j] == 0) {
          continue;
        }
        for (int g = 0; g < cluster.gpus(); g++) {
          reward[j][g] += counts[i][j] * shareA[i][g];
        }
      }
    }
    return reward;
  }

  /** The layer with its GPU contents (replicas and shares) assigned to physical GPUs at best. */
  private static LayerSolution permute(LayerSolution layer, double[][] reward, ClusterSpec cluster) {
    int gpus = cluster.gpus();
    int slotsPerGpu = cluster.slotsPerGpu();
    int[] map = layer.map();
    double[] shares = layer.shares();
    double[][] value = new double[gpus][gpus];
    double top = 0;
    for (int g = 0; g < gpus; g++) {
      for (int h = 0; h < gpus; h++) {
        for (int k = 0; k < slotsPerGpu; k++) {
          int s = h * slotsPerGpu + k;
          value[g][h] += reward[map[s]][g] * shares[s];
        }
        top = Math.max(top, value[g][h]);
      }
    }
    if (top == 0) {
      return layer;
    }
    LinearSumAssignment assignment = new LinearSumAssignment();
    for (int g = 0; g < gpus; g++) {
      for (int h = 0; h < gpus; h++) {
        assignment.addArcWithCost(g, h, -Math.round(1e9 * value[g][h] / top));
      }
    }
    if (assignment.solve() != LinearSumAssignment.Status.OPTIMAL) {
      return layer;
    }
    int[] outMap = new int[map.length];
    double[] outShares = new double[map.length];
    for (int g = 0; g < gpus; g++) {
      int h = assignment.getRightMate(g);
      System.arraycopy(map, h * slotsPerGpu, outMap, g * slotsPerGpu, slotsPerGpu);
      System.arraycopy(shares, h * slotsPerGpu, outShares, g * slotsPerGpu, slotsPerGpu);
    }
    return new LayerSolution(outMap, outShares, layer.maxLoadLowerBound());
  }

  /**
   * Swaps pairs of slots on different GPUs, best reward gain first, while the layer's max load stays
   * under {@code cap}; stops when no swap gains or time is up. {@code rewardOf} gives the reward for
   * the current map and its shares.
   */
  private static int[] climb(int[] start, BiFunction<int[], double[], double[][]> rewardOf,
      ShareBalancer balancer, double cap, ClusterSpec cluster, long deadline) {
    int[] map = start.clone();
    int slotsPerGpu = cluster.slotsPerGpu();
    double[] shares = balancer.balance(map).slotShare();
    while (System.nanoTime() < deadline) {
      double[][] reward = rewardOf.apply(map, shares);
      List<long[]> gains = new ArrayList<>();
      for (int s1 = 0; s1 < map.length; s1++) {
        for (int s2 = (s1 / slotsPerGpu + 1) * slotsPerGpu; s2 < map.length; s2++) {
          int g1 = s1 / slotsPerGpu;
          int g2 = s2 / slotsPerGpu;
          double gain = (reward[map[s1]][g2] - reward[map[s1]][g1]) * shares[s1]
              + (reward[map[s2]][g1] - reward[map[s2]][g2]) * shares[s2];
          if (gain > 0 && map[s1] != map[s2]) {
            gains.add(new long[] {Double.doubleToLongBits(gain), s1, s2});
          }
        }
      }
      gains.sort(Comparator.comparingDouble((long[] g) -> -Double.longBitsToDouble(g[0])));
      boolean moved = false;
      for (long[] g : gains.subList(0, Math.min(CLIMB_TRIES, gains.size()))) {
        int s1 = (int) g[1];
        int s2 = (int) g[2];
        int[] candidate = map.clone();
        candidate[s1] = map[s2];
        candidate[s2] = map[s1];
        if (balancer.probe(candidate, cap).feasible()) {
          map = candidate;
          shares = balancer.balance(map).slotShare();
          moved = true;
          break;
        }
      }
      if (!moved) {
        break;
      }
    }
    return map;
  }
}

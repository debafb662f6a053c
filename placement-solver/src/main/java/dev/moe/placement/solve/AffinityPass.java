package dev.moe.placement.solve;

import com.google.ortools.Loader;
import com.google.ortools.graph.LinearSumAssignment;
import dev.moe.placement.ClusterSpec;
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
 * <p>GPUs are interchangeable within a layer, so the balanced layer's GPU contents are first
 * assigned to physical GPUs by a linear assignment (no balance lost); then pairs of replicas swap
 * GPUs, best co-location gain first, while the layer's max load stays within {@code 1 + weight}
 * times the balanced one.
 */
final class AffinityPass {

  /** Best-gain swaps checked against the load cap per step before the climb stops. */
  private static final int CLIMB_TRIES = 64;


  static {
    Loader.loadNativeLibraries();
  }

  private AffinityPass() {}

  static void apply(RoutingStats stats, ClusterSpec cluster, LayerSolution[] solved, double weight, long deadline) {
    long transitionsDeadline =
        stats.coactivation() == null ? deadline : System.nanoTime() + (deadline - System.nanoTime()) / 2;
    applyTransitions(stats, cluster, solved, weight, transitionsDeadline);
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

  private static void applyTransitions(
      RoutingStats stats, ClusterSpec cluster, LayerSolution[] solved, double weight, long deadline) {
    List<Map.Entry<LayerPair, double[][]>> pairs = stats.transitions().entrySet().stream()
        .sorted(Comparator.comparingInt((Map.Entry<LayerPair, double[][]> p) -> p.getKey().from()))
        .toList();
    for (int i = 0; i < pairs.size(); i++) {
      LayerPair pair = pairs.get(i).getKey();
      if (pair.from() >= solved.length || pair.to() >= solved.length || stats.isDense(pair.to())) {
        continue;
      }
      double[] load = stats.load(pair.to());
      LayerSolution a = solved[pair.from()];
      double[][] reward = reward(pairs.get(i).getValue(), a.map(), a.shares(), cluster);
      LayerSolution b = solved[pair.to()];
      ShareBalancer balancer = new ShareBalancer(load, cluster.gpus(), cluster.slotsPerGpu());
      int[] map = permute(b.map(), b.shares(), reward, cluster);
      long pairDeadline = System.nanoTime() + Math.max(0, deadline - System.nanoTime()) / (pairs.size() - i);
      map = climb(map, (m, shares) -> reward, balancer, balancer.maxLoad(map) * (1 + weight), cluster, pairDeadline);
      solved[pair.to()] = new LayerSolution(
          map, PlacementSolver.bestShares(load, map, cluster, balancer), b.maxLoadLowerBound());
    }
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

  /** The best assignment of the layer's GPU contents to physical GPUs. */
  private static int[] permute(int[] map, double[] shares, double[][] reward, ClusterSpec cluster) {
    int gpus = cluster.gpus();
    int slotsPerGpu = cluster.slotsPerGpu();
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
      return map;
    }
    LinearSumAssignment assignment = new LinearSumAssignment();
    for (int g = 0; g < gpus; g++) {
      for (int h = 0; h < gpus; h++) {
        assignment.addArcWithCost(g, h, -Math.round(1e9 * value[g][h] / top));
      }
    }
    if (assignment.solve() != LinearSumAssignment.Status.OPTIMAL) {
      return map;
    }
    int[] out = new int[map.length];
    for (int g = 0; g < gpus; g++) {
      int h = assignment.getRightMate(g);
      System.arraycopy(map, h * slotsPerGpu, out, g * slotsPerGpu, slotsPerGpu);
    }
    return out;
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

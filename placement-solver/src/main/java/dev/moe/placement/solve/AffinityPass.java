package dev.moe.placement.solve;

import com.google.ortools.Loader;
import com.google.ortools.graph.LinearSumAssignment;
import dev.moe.placement.ClusterSpec;
import dev.moe.placement.solve.PlacementSolver.LayerSolution;
import dev.moe.stats.LayerPair;
import dev.moe.stats.RoutingStats;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Map;

/**
 * Co-locates experts that tokens go through one after the other (ExFlow, MoETuner): with layer a
 * placed, layer b is re-placed so that a token leaving expert i on GPU g finds its next expert j on
 * g as often as the transition counts say it will.
 *
 * <p>Where the layer fits the exact model, CP-SAT re-places it, allowed a max load up to {@code 1 +
 * weight} times the balanced one. Otherwise GPUs are interchangeable within a layer, so the balanced
 * layer's GPU contents are permuted onto physical GPUs by a linear assignment: no balance lost.
 */
final class AffinityPass {

  static {
    Loader.loadNativeLibraries();
  }

  private AffinityPass() {}

  static void apply(RoutingStats stats, ClusterSpec cluster, LayerSolution[] solved, double weight, long deadline) {
    List<Map.Entry<LayerPair, double[][]>> pairs = stats.transitions().entrySet().stream()
        .sorted(Comparator.comparingInt((Map.Entry<LayerPair, double[][]> p) -> p.getKey().from()))
        .toList();
    for (int i = 0; i < pairs.size(); i++) {
      LayerPair pair = pairs.get(i).getKey();
      if (pair.from() >= solved.length || pair.to() >= solved.length || stats.isDense(pair.to())) {
        continue;
      }
      double[] load = stats.load(pair.to());
      double[][] reward = reward(pairs.get(i).getValue(), solved[pair.from()], cluster, stats.experts());
      LayerSolution b = solved[pair.to()];
      ShareBalancer balancer = new ShareBalancer(load, cluster.gpus(), cluster.slotsPerGpu());
      int[] map = permute(b.map(), b.shares(), reward, cluster);
      long left = deadline - System.nanoTime();
      if (ExactLayerModel.fits(load.length, cluster) && left > 0) {
        Duration limit = Duration.ofNanos(left / (pairs.size() - i));
        ExactLayerModel.Result r = new ExactLayerModel(load, cluster).maximizeAffinity(
            map, balancer.balance(map).slotShare(), limit, reward, balancer.maxLoad(map) * (1 + weight));
        if (gain(reward, r.map(), balancer, cluster) > gain(reward, map, balancer, cluster)) {
          map = r.map();
        }
      }
      solved[pair.to()] = new LayerSolution(
          map, PlacementSolver.bestShares(load, map, cluster, balancer), b.maxLoadLowerBound());
    }
  }

  /** reward[j][g]: tokens that would find expert j on GPU g, given where layer a serves them. */
  private static double[][] reward(double[][] counts, LayerSolution from, ClusterSpec cluster, int experts) {
    double[][] shareA = new double[experts][cluster.gpus()];
    for (int s = 0; s < from.map().length; s++) {
      shareA[from.map()[s]][cluster.gpuOfSlot(s)] += from.shares()[s];
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

  private static double gain(double[][] reward, int[] map, ShareBalancer balancer, ClusterSpec cluster) {
    double[] shares = balancer.balance(map).slotShare();
    double sum = 0;
    for (int s = 0; s < map.length; s++) {
      sum += reward[map[s]][cluster.gpuOfSlot(s)] * shares[s];
    }
    return sum;
  }
}

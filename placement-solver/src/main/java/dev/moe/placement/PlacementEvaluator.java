package dev.moe.placement;

import dev.moe.placement.solve.LoadBound;
import dev.moe.stats.LayerPair;
import dev.moe.stats.RoutingStats;
import java.util.Map;

/**
 * Measures a placement, with its own replica shares, on some traffic.
 *
 * <p>Traffic model: tokens start evenly on every GPU (data-parallel attention), and each dispatch
 * goes to a replica on the token's own node first, as far as the shares allow. So an expert keeps
 * {@code sum over nodes of min(1/nodes, its share on that node)} of its dispatches on-node, and a
 * transition i -> j stays on one GPU with probability {@code sum over GPUs of min(share_i,
 * share_j)}.
 */
public final class PlacementEvaluator {

  private PlacementEvaluator() {}

  /**
   * @param current the placement this one replaces, for {@code replicas_moved}; may be null
   */
  public static PlacementReport evaluate(
      RoutingStats stats, ClusterSpec cluster, Placement placement, Placement current, double solveSeconds) {
    return evaluate(stats, cluster, placement, current, solveSeconds, new double[stats.layers()]);
  }

  /**
   * @param maxLoadLowerBounds per layer, a bound on the max GPU load that a solver proved; the
   *     report's bound is the tighter of it and {@link LoadBound}'s
   */
  public static PlacementReport evaluate(
      RoutingStats stats,
      ClusterSpec cluster,
      Placement placement,
      Placement current,
      double solveSeconds,
      double[] maxLoadLowerBounds) {
    checkShape(stats, cluster, placement);
    double meanSum = 0;
    double maxSum = 0;
    double boundSum = 0;
    double dispatches = 0;
    double offNode = 0;
    for (int layer = 0; layer < stats.layers(); layer++) {
      if (stats.isDense(layer)) {
        continue;
      }
      double[] w = stats.load(layer);
      int[] map = placement.physicalToLogical()[layer];
      double[] shares = placement.replicaShares()[layer];
      double[] gpuLoad = gpuLoads(w, map, shares, cluster);
      double total = 0;
      double max = 0;
      for (double v : gpuLoad) {
        total += v;
        max = Math.max(max, v);
      }
      meanSum += total / cluster.gpus();
      maxSum += max;
      boundSum += Math.max(
          maxLoadLowerBounds[layer], LoadBound.maxLoadLowerBound(w, cluster.gpus(), cluster.slots()));
      dispatches += total;
      offNode += total - localLoad(w, map, shares, cluster);
    }
    double balancedness = maxSum == 0 ? 1 : meanSum / maxSum;
    double bound = boundSum == 0 ? 1 : meanSum / boundSum;
    return new PlacementReport(
        balancedness,
        bound,
        1 - balancedness / bound,
        dispatches == 0 ? 0 : offNode / dispatches,
        crossGpuTransitionFraction(stats, cluster, placement),
        current == null ? 0 : replicasMoved(current, placement, cluster.slotsPerGpu()),
        solveSeconds);
  }

  public static double[] gpuLoads(double[] w, int[] map, double[] shares, ClusterSpec cluster) {
    double[] gpuLoad = new double[cluster.gpus()];
    for (int s = 0; s < map.length; s++) {
      gpuLoad[cluster.gpuOfSlot(s)] += shares[s] * w[map[s]];
    }
    return gpuLoad;
  }

  /** Load served on the node the token started on, under node-first routing. */
  public static double localLoad(double[] w, int[] map, double[] shares, ClusterSpec cluster) {
    int nodes = cluster.nodes();
    double[][] nodeShare = new double[w.length][nodes];
    for (int s = 0; s < map.length; s++) {
      nodeShare[map[s]][cluster.nodeOf(cluster.gpuOfSlot(s))] += shares[s];
    }
    double local = 0;
    for (int e = 0; e < w.length; e++) {
      double kept = 0;
      for (int n = 0; n < nodes; n++) {
        kept += Math.min(1.0 / nodes, nodeShare[e][n]);
      }
      local += w[e] * kept;
    }
    return local;
  }

  /** NaN when the stats carry no transitions. */
  static double crossGpuTransitionFraction(RoutingStats stats, ClusterSpec cluster, Placement placement) {
    if (stats.transitions().isEmpty()) {
      return Double.NaN;
    }
    double all = 0;
    double crossing = 0;
    for (Map.Entry<LayerPair, double[][]> pair : stats.transitions().entrySet()) {
      double[][] from = gpuShares(placement, pair.getKey().from(), stats.experts(), cluster);
      double[][] to = gpuShares(placement, pair.getKey().to(), stats.experts(), cluster);
      double[][] counts = pair.getValue();
      for (int i = 0; i < counts.length; i++) {
        for (int j = 0; j < counts[i].length; j++) {
          double c = counts[i][j];
          if (c == 0) {
            continue;
          }
          double same = 0;
          for (int g = 0; g < cluster.gpus(); g++) {
            same += Math.min(from[i][g], to[j][g]);
          }
          all += c;
          crossing += c * (1 - same);
        }
      }
    }
    return all == 0 ? 0 : crossing / all;
  }

  /** {@code [expert][gpu]}: the share of the expert's tokens that GPU serves in that layer. */
  public static double[][] gpuShares(Placement placement, int layer, int experts, ClusterSpec cluster) {
    double[][] share = new double[experts][cluster.gpus()];
    int[] map = placement.physicalToLogical()[layer];
    double[] shares = placement.replicaShares()[layer];
    for (int s = 0; s < map.length; s++) {
      share[map[s]][cluster.gpuOfSlot(s)] += shares[s];
    }
    return share;
  }

  /** Replicas a GPU must fetch: per GPU, the experts it holds now beyond those it held before. */
  public static int replicasMoved(Placement from, Placement to, int slotsPerGpu) {
    int moved = 0;
    for (int layer = 0; layer < to.layers(); layer++) {
      moved += replicasMoved(from.physicalToLogical()[layer], to.physicalToLogical()[layer], slotsPerGpu);
    }
    return moved;
  }

  public static int replicasMoved(int[] fromMap, int[] toMap, int slotsPerGpu) {
    int moved = 0;
    for (int base = 0; base < toMap.length; base += slotsPerGpu) {
      boolean[] used = new boolean[slotsPerGpu];
      for (int s = base; s < base + slotsPerGpu; s++) {
        boolean found = false;
        for (int t = 0; t < slotsPerGpu && !found; t++) {
          if (!used[t] && fromMap[base + t] == toMap[s]) {
            used[t] = true;
            found = true;
          }
        }
        if (!found) {
          moved++;
        }
      }
    }
    return moved;
  }

  private static void checkShape(RoutingStats stats, ClusterSpec cluster, Placement placement) {
    if (placement.layers() != stats.layers()) {
      throw new IllegalArgumentException(
          "placement has " + placement.layers() + " layers, the statistics have " + stats.layers());
    }
    if (placement.slots() != cluster.slots()) {
      throw new IllegalArgumentException(
          "placement has " + placement.slots() + " slots, the cluster has " + cluster.slots());
    }
    for (int[] row : placement.physicalToLogical()) {
      for (int e : row) {
        if (e < 0 || e >= stats.experts()) {
          throw new IllegalArgumentException(
              "placement names expert " + e + ", the statistics have " + stats.experts() + " experts");
        }
      }
    }
  }
}

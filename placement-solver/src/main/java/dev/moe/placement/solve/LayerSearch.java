package dev.moe.placement.solve;

import dev.moe.placement.ClusterSpec;
import dev.moe.placement.PlacementEvaluator;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Local search on one layer's slot map, guided by the exact bottleneck.
 *
 * <p>{@link ShareBalancer} returns the set X of experts whose GPUs are all saturated at the best
 * max load. Only a move that gives X another GPU can lower it, so candidates are: put a replica of
 * an expert of X on a slot outside X's GPUs (taking it from an expert that has replicas to spare),
 * or swap an expert of X with one outside. Each candidate is screened by one max-flow and the
 * improving ones scored exactly; the best is kept while it improves the objective and the move
 * budget lasts. Where several tight sets hold the max load up, a move that leaves it equal but
 * frees GPUs from them is progress too; a round that finds nothing looks wider the next time.
 */
final class LayerSearch {

  private static final int TARGETS = 4;
  private static final int DONORS = 6;
  private static final int SWAPS = 10;
  private static final int STUCK_ROUNDS = 8;

  private final double[] load;
  private final ClusterSpec cluster;
  private final ShareBalancer balancer;
  private final int[] current;
  private final int maxMoves;
  private final double moveCost;
  private final double crossNodeCost;
  private final boolean[] hot;
  private final int hotMinNodes;
  private final SplittableRandom random;

  /**
   * @param current the placement moves are counted against; null when moves are free
   * @param maxMoves replicas that may move against {@code current}; negative: unlimited
   * @param moveCost objective cost of one moved replica, in units of the layer's mean GPU load
   * @param crossNodeWeight objective cost of off-node traffic, as a share of the layer's tokens, in
   *     units of the layer's mean GPU load
   * @param hot experts that must keep replicas on {@code hotMinNodes} nodes
   */
  LayerSearch(
      double[] load,
      ClusterSpec cluster,
      int[] current,
      int maxMoves,
      double moveCost,
      double crossNodeWeight,
      boolean[] hot,
      int hotMinNodes,
      long seed) {
    this.load = load;
    this.cluster = cluster;
    this.balancer = new ShareBalancer(load, cluster.gpus(), cluster.slotsPerGpu());
    this.current = current;
    this.maxMoves = maxMoves;
    this.moveCost = moveCost * balancer.total() / cluster.gpus();
    this.crossNodeCost = crossNodeWeight * balancer.total() / cluster.gpus();
    this.hot = hot;
    this.hotMinNodes = hotMinNodes;
    this.random = new SplittableRandom(seed);
  }

  ShareBalancer balancer() {
    return balancer;
  }

  /** Improves {@code start} (not modified) until {@code deadlineNanos} or no move helps. */
  int[] improve(int[] start, long deadlineNanos, double stopAtMaxLoad) {
    int[] map = start.clone();
    ShareBalancer.Result state = balancer.balance(map);
    double score = score(state.maxLoad(), map);
    int[] bestSeen = map;
    double bestSeenScore = score;
    int stuck = 0;
    while (System.nanoTime() < deadlineNanos && state.maxLoad() > stopAtMaxLoad) {
      int[] bestMap = null;
      ShareBalancer.Result bestState = null;
      double bestScore = score;
      int bestTight = state.tightGpus();
      // Screen each candidate with one max-flow just below the current max load; only those that
      // beat it get balanced in full.
      double level = state.maxLoad() * (1 - 1e-7);
      // Each round that finds nothing looks wider: more targets, donors and swaps.
      for (int[] candidate : candidates(map, state, 1 + stuck)) {
        if (!allowed(candidate)) {
          continue;
        }
        ShareBalancer.Probe probe = balancer.probe(candidate, level);
        if (probe.feasible()) {
          ShareBalancer.Result r = balancer.balance(candidate);
          double s = score(r.maxLoad(), candidate);
          if (s < bestScore - 1e-9 * Math.abs(bestScore)) {
            bestScore = s;
            bestTight = r.tightGpus();
            bestMap = candidate;
            bestState = r;
          }
        } else if (bestState == null && probe.cutRatio() <= state.maxLoad() * (1 + 1e-9)
            && probe.cutGpus() < bestTight) {
          // Equal max load with fewer saturated GPUs is progress, one tight set fewer to break, even
          // where it costs a move: the best map seen is what is returned.
          bestTight = probe.cutGpus();
          bestMap = candidate;
        }
      }
      if (bestMap == null) {
        // The sampled swaps may have missed; some fresh samples before giving up.
        if (++stuck > STUCK_ROUNDS) {
          break;
        }
        continue;
      }
      stuck = 0;
      map = bestMap;
      state = bestState != null ? bestState : balancer.balance(map);
      score = score(state.maxLoad(), map);
      if (score < bestSeenScore) {
        bestSeenScore = score;
        bestSeen = map;
      }
    }
    return bestSeen;
  }

  /** Max load plus the weighted off-node traffic and moves, all in units of load. */
  private double score(double maxLoad, int[] map) {
    double score = maxLoad + crossNodeCost * offNodeShare(map);
    if (current != null && moveCost > 0) {
      score += moveCost * PlacementEvaluator.replicasMoved(current, map, cluster.slotsPerGpu());
    }
    return score;
  }

  /**
   * Expected off-node share of dispatches when each expert's load spreads evenly over the nodes
   * holding it: an expert on n of N nodes keeps n / N of its tokens on-node.
   */
  private double offNodeShare(int[] map) {
    if (crossNodeCost == 0 || cluster.nodes() == 1) {
      return 0;
    }
    int nodes = cluster.nodes();
    long[] seen = new long[load.length];
    int[] nodeCount = new int[load.length];
    for (int s = 0; s < map.length; s++) {
      int n = cluster.nodeOf(s / cluster.slotsPerGpu());
      // One bit per node: clusters with more than 64 nodes count the first 64 only, a proxy still.
      long bit = 1L << (n & 63);
      if ((seen[map[s]] & bit) == 0) {
        seen[map[s]] |= bit;
        nodeCount[map[s]]++;
      }
    }
    double kept = 0;
    for (int e = 0; e < load.length; e++) {
      kept += load[e] * nodeCount[e] / nodes;
    }
    return 1 - kept / balancer.total();
  }

  private boolean allowed(int[] map) {
    if (current != null && maxMoves >= 0
        && PlacementEvaluator.replicasMoved(current, map, cluster.slotsPerGpu()) > maxMoves) {
      return false;
    }
    return hotMinNodes <= 1 || HotExperts.spreadOk(map, hot, hotMinNodes, cluster);
  }

  private List<int[]> candidates(int[] map, ShareBalancer.Result state, int breadth) {
    int gpus = cluster.gpus();
    int slotsPerGpu = cluster.slotsPerGpu();
    boolean[] inX = state.bottleneck();
    boolean[] gpuOfX = new boolean[gpus];
    int[] count = new int[load.length];
    for (int s = 0; s < map.length; s++) {
      count[map[s]]++;
      if (inX[map[s]]) {
        gpuOfX[s / slotsPerGpu] = true;
      }
    }
    List<int[]> out = new ArrayList<>();
    List<Integer> targets = new ArrayList<>();
    for (int e = 0; e < load.length; e++) {
      if (inX[e]) {
        targets.add(e);
      }
    }
    targets.sort(Comparator.comparingDouble(e -> -load[e] / count[e]));
    List<Integer> donors = new ArrayList<>();
    List<Integer> outside = new ArrayList<>();
    for (int s = 0; s < map.length; s++) {
      if (!gpuOfX[s / slotsPerGpu]) {
        outside.add(s);
        if (count[map[s]] >= 2) {
          donors.add(s);
        }
      }
    }
    double[] gpuLoad = state.gpuLoad();
    // A donor replica is cheap to lose when its expert's other replicas can take its load.
    donors.sort(Comparator.comparingDouble(
        s -> load[map[s]] / (count[map[s]] - 1) + gpuLoad[s / slotsPerGpu]));
    int donorCount = DONORS * breadth;
    for (int t = 0; t < Math.min(TARGETS * breadth, targets.size()); t++) {
      int e = targets.get(t);
      boolean[] nodeHas = nodesHolding(map, e);
      List<Integer> ranked = new ArrayList<>(donors.subList(0, Math.min(4 * donorCount, donors.size())));
      // Prefer a node that lacks the expert: it keeps more of that expert's traffic on-node.
      ranked.sort(Comparator.comparingInt(s -> nodeHas[cluster.nodeOf(s / slotsPerGpu)] ? 1 : 0));
      for (int k = 0; k < Math.min(donorCount, ranked.size()); k++) {
        int[] c = map.clone();
        c[ranked.get(k)] = e;
        out.add(c);
      }
    }
    if (!outside.isEmpty() && !targets.isEmpty()) {
      List<Integer> inside = new ArrayList<>();
      for (int s = 0; s < map.length; s++) {
        if (inX[map[s]]) {
          inside.add(s);
        }
      }
      for (int k = 0; k < SWAPS * breadth; k++) {
        int s1 = inside.get(random.nextInt(inside.size()));
        int s2 = outside.get(random.nextInt(outside.size()));
        int[] c = map.clone();
        c[s1] = map[s2];
        c[s2] = map[s1];
        out.add(c);
      }
    }
    return out;
  }

  private boolean[] nodesHolding(int[] map, int expert) {
    boolean[] has = new boolean[cluster.nodes()];
    for (int s = 0; s < map.length; s++) {
      if (map[s] == expert) {
        has[cluster.nodeOf(s / cluster.slotsPerGpu())] = true;
      }
    }
    return has;
  }

}

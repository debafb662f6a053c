package dev.moe.placement.solve;

import dev.moe.placement.ClusterSpec;
import dev.moe.placement.Placement;
import dev.moe.placement.PlacementEvaluator;
import dev.moe.placement.PlacementReport;
import dev.moe.placement.baseline.EplbPlacer;
import dev.moe.stats.RoutingStats;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The optimizer: per layer, the best of a greedy warm start (EPLB's plan; for two slots per GPU also
 * a star cover, improved by a bin-covering search), improved by a bottleneck-guided local search,
 * solved exactly by CP-SAT where the layer is small enough, then shares that keep traffic on-node.
 * Layers are independent and solved in parallel; with transitions, an affinity pass then co-locates
 * consecutive layers' experts.
 */
public final class PlacementSolver {

  /**
   * With two slots per GPU on a fresh solve, the share of a layer's time the cover search and then
   * the search take; the LP-priced bound gets the rest (more where they stop early).
   */
  private static final double SEARCH_SHARE = 0.5;

  private final SolverOptions options;

  public PlacementSolver(SolverOptions options) {
    this.options = options;
  }

  /**
   * @param current the placement being served; moves are counted (and budgeted) against it. May be
   *     null.
   */
  public Placement solve(RoutingStats stats, ClusterSpec cluster, Placement current) {
    long started = System.nanoTime();
    check(stats, cluster, current);
    List<Integer> moeLayers = new ArrayList<>();
    for (int l = 0; l < stats.layers(); l++) {
      if (!stats.isDense(l)) {
        moeLayers.add(l);
      }
    }
    int[][] warm = current == null
        ? new EplbPlacer(EplbPlacer.Mode.GLOBAL, 1).place(stats, cluster).physicalToLogical()
        : current.physicalToLogical();
    int[] moveBudget = moveBudgets(stats.layers(), moeLayers, current);
    long limit = options.timeLimit().toNanos();
    boolean affinity = current == null && options.affinityWeight() > 0 && stats.hasAffinity();
    // Layers share the threads; the read-back gets the last 15% of the limit, the affinity pass
    // (a CP-SAT model over all linked layers) the last half.
    double layerPart = affinity ? 0.5 : 0.85;
    long perLayer = (long) (layerPart * limit * Math.min(options.threads(), Math.max(1, moeLayers.size()))
        / Math.max(1, moeLayers.size()));
    long deadline = started + (long) (layerPart * limit);
    AtomicInteger unstarted = new AtomicInteger(moeLayers.size());
    int threads = options.threads();
    LayerSolution[] solved = ParallelLayers.map(threads, stats.layers(), layer -> solveLayer(stats, layer,
        cluster, warm[layer], current == null ? null : current.physicalToLogical()[layer], moveBudget[layer],
        stats.isDense(layer) ? 0 : fairShare(perLayer, deadline, unstarted.getAndDecrement(), threads),
        deadline), "solve").toArray(new LayerSolution[0]);
    if (affinity) {
      AffinityPass.apply(stats, cluster, solved, options.affinityWeight(), started + limit, threads);
    }
    return assemble(stats, cluster, current, solved, started);
  }

  /**
   * A layer's time: its share of the limit, less when layers before it ran over (a cold JVM's
   * first layers do), so that the overrun is spread over the layers still to start rather than
   * taken from the last ones.
   */
  private static long fairShare(long perLayer, long deadline, int unstarted, int threads) {
    return Math.min(perLayer, Math.max(0, deadline - System.nanoTime()) * threads / Math.max(1, unstarted));
  }

  /** One layer's outcome: its slot map and shares, and the best proven bound on its max load. */
  record LayerSolution(int[] map, double[] shares, double maxLoadLowerBound) {}

  private LayerSolution solveLayer(
      RoutingStats stats, int layer, ClusterSpec cluster, int[] warm, int[] currentMap,
      int moveBudget, long budgetNanos, long deadline) {
    long layerStart = System.nanoTime();
    long layerDeadline = Math.min(layerStart + budgetNanos, deadline);
    double[] load = stats.load(layer);
    if (stats.isDense(layer)) {
      int[] map = currentMap != null ? currentMap.clone() : roundRobin(stats.experts(), cluster.slots());
      return new LayerSolution(map, Placement.evenShares(map, stats.experts()), 0);
    }
    double bound = LoadBound.maxLoadLowerBound(load, cluster.gpus(), cluster.slots());
    boolean[] hot = HotExperts.hottest(load);
    int minNodes = options.hotExpertMinNodes();
    long seed = 31L * layer + 7;
    LayerSearch search = new LayerSearch(load, cluster, currentMap, moveBudget,
        currentMap == null ? 0 : options.migrationWeight(),
        options.crossNodeWeight() * (cluster.interNodeCost() - 1), hot, minNodes, seed);
    ShareBalancer balancer = search.balancer();

    boolean exact = currentMap == null && minNodes <= 1 && ExactLayerModel.fits(load.length, cluster);
    // Fresh solves only (a re-plan's search needs its time), and where CP-SAT does not solve the
    // layer exactly: its own bound beats the LP's.
    boolean priced = currentMap == null && !exact && cluster.slots() == 2 * cluster.gpus();
    long shared = layerStart + (long) ((layerDeadline - layerStart) * SEARCH_SHARE);
    List<int[]> starts = new ArrayList<>();
    starts.add(warm.clone());
    if (currentMap == null && cluster.slotsPerGpu() == 2) {
      double upper = balancer.maxLoad(warm);
      int[] star = StarCover.place(load, cluster.gpus(), bound, upper, seed, priced ? shared : layerStart);
      if (star != null) {
        starts.add(star);
      }
    }
    int[] best = null;
    double bestLoad = Double.MAX_VALUE;
    for (int[] start : starts) {
      // Availability comes first: a served placement that lost the spread gets it back, even
      // where that takes moves beyond the budget (the search rejects any move that breaks it).
      int[] map = minNodes > 1 ? HotExperts.enforce(start, load, hot, minNodes, cluster) : start;
      double l = balancer.maxLoad(map);
      if (l < bestLoad) {
        bestLoad = l;
        best = map;
      }
    }
    double stopAt = bound * (1 + 1e-9);
    long searchDeadline = exact
        ? System.nanoTime() + (layerDeadline - System.nanoTime()) / 3
        : priced ? shared : layerDeadline;
    int[] map = search.improve(best, searchDeadline, stopAt);
    if (priced) {
      bound = ComponentLpBound.maxLoadLowerBound(load, cluster.gpus(), bound, balancer.maxLoad(map), layerDeadline);
    }
    if (exact && balancer.maxLoad(map) > stopAt) {
      ShareBalancer.Result hint = balancer.balance(map);
      ExactLayerModel.Result r = new ExactLayerModel(load, cluster).minimizeMaxLoad(
          map, hint.slotShare(), Duration.ofNanos(Math.max(1, layerDeadline - System.nanoTime())));
      if (balancer.maxLoad(r.map()) < hint.maxLoad()) {
        map = r.map();
      }
      bound = Math.max(bound, r.maxLoadLowerBound());
    }
    if (currentMap != null) {
      map = SlotAlignment.align(currentMap, map, cluster.slotsPerGpu());
    }
    return new LayerSolution(map, bestShares(load, map, cluster, balancer), bound);
  }

  /** Balanced shares, moved towards on-node traffic where that costs no balance. */
  static double[] bestShares(double[] load, int[] map, ClusterSpec cluster, ShareBalancer balancer) {
    ShareBalancer.Result balanced = balancer.balance(map);
    double[] local = LocalShares.shares(load, map, cluster, balanced.maxLoad() * (1 + 1e-6));
    return local != null ? local : balanced.slotShare();
  }

  private Placement assemble(
      RoutingStats stats, ClusterSpec cluster, Placement current, LayerSolution[] solved, long started) {
    int[][] maps = new int[solved.length][];
    double[][] shares = new double[solved.length][];
    double[] bounds = new double[solved.length];
    for (int l = 0; l < solved.length; l++) {
      maps[l] = solved[l].map();
      shares[l] = solved[l].shares();
      bounds[l] = solved[l].maxLoadLowerBound();
    }
    Placement placement = new Placement(cluster.slotsPerGpu(), maps, shares, null);
    double seconds = (System.nanoTime() - started) / 1e9;
    PlacementReport report = PlacementEvaluator.evaluate(stats, cluster, placement, current, seconds, bounds);
    return placement.withReport(report);
  }

  private int[] moveBudgets(int layers, List<Integer> moeLayers, Placement current) {
    int[] budget = new int[layers];
    int total = options.maxMoves();
    for (int i = 0; i < moeLayers.size(); i++) {
      budget[moeLayers.get(i)] = current == null || total < 0
          ? -1
          : total / moeLayers.size() + (i < total % moeLayers.size() ? 1 : 0);
    }
    return budget;
  }

  static void check(RoutingStats stats, ClusterSpec cluster, Placement current) {
    if (stats.layers() == 0 || stats.experts() == 0) {
      throw new IllegalArgumentException("the statistics hold no layers or no experts");
    }
    for (int l = 0; l < stats.layers(); l++) {
      for (double w : stats.load(l)) {
        if (!(w >= 0) || Double.isInfinite(w)) {
          throw new IllegalArgumentException("layer " + l + " has a negative or non-finite count: " + w);
        }
      }
    }
    if (cluster.slots() < stats.experts()) {
      throw new IllegalArgumentException("--gpus x --slots-per-gpu = " + cluster.slots()
          + " slots cannot hold " + stats.experts() + " experts: every expert needs a slot");
    }
    if (current == null) {
      return;
    }
    if (current.layers() != stats.layers() || current.slots() != cluster.slots()
        || current.slotsPerGpu() != cluster.slotsPerGpu()) {
      throw new IllegalArgumentException("the current placement is " + current.layers() + " layers x "
          + current.slots() + " slots (" + current.slotsPerGpu() + " per GPU), but the statistics and cluster are "
          + stats.layers() + " layers x " + cluster.slots() + " slots (" + cluster.slotsPerGpu() + " per GPU)");
    }
    for (int[] row : current.physicalToLogical()) {
      for (int e : row) {
        if (e < 0 || e >= stats.experts()) {
          throw new IllegalArgumentException("the current placement names expert " + e
              + ", but the statistics have " + stats.experts() + " experts");
        }
      }
    }
  }

  private static int[] roundRobin(int experts, int slots) {
    int[] map = new int[slots];
    for (int s = 0; s < slots; s++) {
      map[s] = s % experts;
    }
    return map;
  }

}

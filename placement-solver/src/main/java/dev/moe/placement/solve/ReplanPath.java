package dev.moe.placement.solve;

import dev.moe.placement.ClusterSpec;
import dev.moe.placement.Placement;
import dev.moe.placement.PlacementEvaluator;
import dev.moe.placement.PlacementReport;
import dev.moe.stats.RoutingStats;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.IntFunction;
import java.util.function.ToIntFunction;

/**
 * Re-plans that converge: the first budgeted step of a path from the served placement to a fresh
 * solve's.
 *
 * <p>A search from the served placement within a move budget stops in a local optimum (DeepSeek-V3
 * at 144 GPUs x 2 slots after decode -> prefill: 0.70, where a fresh solve reaches 0.88, however
 * many moves it may make). So: solve the target afresh; per layer, give its GPU contents to the
 * GPUs that hold most of them already ({@link GpuRelabel}); walk each layer towards it replica by
 * replica ({@link LayerPath}); then spend the budget over the layers where it lowers the sum of max
 * loads most per replica fetched. The next rebalance does the same from what then serves, so
 * budgeted rebalances reach the target in about (replicas to the target) / budget steps.
 *
 * <p>Today's budgeted search from the served placement still has its say: a layer it brings within
 * {@link #CLOSE_ENOUGH} of the target needs no path (at 32 GPUs x 9 slots that is most layers), and
 * its moves may start a step where they gain more per replica, as long as the step still comes an
 * eighth of the budget closer to the target (a search that only circles a local optimum does not).
 */
public final class ReplanPath {

  /** A layer within this fraction of the target's max load is where its path ends. */
  static final double CLOSE_ENOUGH = 0.01;

  /**
   * @param placement the first step: the served placement with some replicas moved towards the
   *     target; its report's {@code targetBalancedness} is the target's
   * @param movesLeft replicas still to fetch from {@code placement} to the target
   */
  public record Step(Placement placement, int movesLeft) {}

  private final SolverOptions options;

  /** @param options {@code maxMoves} is the budget of one step; negative goes all the way */
  public ReplanPath(SolverOptions options) {
    this.options = options;
  }

  /** The first step towards a fresh solve of {@code stats}. */
  public Step plan(RoutingStats stats, ClusterSpec cluster, Placement served) {
    long started = System.nanoTime();
    Placement target = new PlacementSolver(options.withMaxMoves(-1)).solve(stats, cluster, null);
    return plan(stats, cluster, served, target, started);
  }

  /** The first step towards {@code target}, a placement for the same cluster (e.g. a former step's). */
  public Step plan(RoutingStats stats, ClusterSpec cluster, Placement served, Placement target) {
    return plan(stats, cluster, served, target, System.nanoTime());
  }

  private Step plan(RoutingStats stats, ClusterSpec cluster, Placement served, Placement target, long started) {
    PlacementSolver.check(stats, cluster, served);
    PlacementSolver.check(stats, cluster, target);
    int budget = options.maxMoves();
    Placement local = budget < 0 ? null : new PlacementSolver(options).solve(stats, cluster, served);
    int layers = stats.layers();
    // The paths get a tenth of the time limit beyond the solves'; a path cut short ends in one jump.
    long deadline = System.nanoTime() + options.timeLimit().toNanos() / 10;
    List<LayerOptions> choices = inParallel(layers, l -> options(stats, l, cluster, served.physicalToLogical()[l],
        local == null ? null : local.physicalToLogical()[l], target.physicalToLogical()[l], deadline));
    int[] at = allocate(choices, budget);
    int[][] stepMaps = new int[layers][];
    double meanSum = 0;
    double targetSum = 0;
    int movesLeft = 0;
    for (int l = 0; l < layers; l++) {
      LayerPath.Point chosen = choices.get(l).points().get(at[l]);
      stepMaps[l] = chosen.map();
      movesLeft += chosen.left();
      if (!stats.isDense(l)) {
        meanSum += Arrays.stream(stats.load(l)).sum() / cluster.gpus();
        targetSum += choices.get(l).targetLoad();
      }
    }
    double targetBalancedness = targetSum == 0 ? 1 : meanSum / targetSum;
    Placement step = placement(stats, cluster, stepMaps);
    PlacementReport report = PlacementEvaluator.evaluate(stats, cluster, step, served,
        (System.nanoTime() - started) / 1e9).withTargetBalancedness(targetBalancedness);
    return new Step(step.withReport(report), movesLeft);
  }

  /**
   * A layer's candidate maps, moves counted from the served map (the first point) and {@code left}
   * to the layer's target, whose max load is {@code targetLoad}. The first {@code toTarget} points
   * lead from the served map to the target; the rest, from the local search's map on. {@code local}
   * is the local search's point (the served map's where it moved nothing).
   */
  record LayerOptions(List<LayerPath.Point> points, int toTarget, int local, double targetLoad) {}

  private static LayerOptions options(RoutingStats stats, int layer, ClusterSpec cluster, int[] served, int[] local,
      int[] target, long deadline) {
    if (stats.isDense(layer)) {
      return new LayerOptions(List.of(new LayerPath.Point(0, 0, served, 0)), 1, 0, 0);
    }
    int slotsPerGpu = cluster.slotsPerGpu();
    double[] load = stats.load(layer);
    ShareBalancer balancer = new ShareBalancer(load, cluster.gpus(), slotsPerGpu);
    double servedLoad = balancer.maxLoad(served);
    int[] relabelled = GpuRelabel.relabel(served, target, slotsPerGpu);
    double targetLoad = balancer.maxLoad(relabelled);
    if (servedLoad <= targetLoad * (1 + CLOSE_ENOUGH)) {
      return new LayerOptions(List.of(new LayerPath.Point(0, servedLoad, served, 0)), 1, 0, servedLoad);
    }
    int localMoves = local == null ? 0 : PlacementEvaluator.replicasMoved(served, local, slotsPerGpu);
    double localLoad = localMoves == 0 ? servedLoad : balancer.maxLoad(local);
    if (localMoves > 0 && localLoad <= targetLoad * (1 + CLOSE_ENOUGH)) {
      return new LayerOptions(List.of(new LayerPath.Point(0, servedLoad, served, localMoves),
          new LayerPath.Point(localMoves, localLoad, local, 0)), 2, 1, localLoad);
    }
    List<LayerPath.Point> points = new ArrayList<>(LayerPath.build(load, served, relabelled, balancer, deadline));
    int toTarget = points.size();
    if (localMoves > 0) {
      for (LayerPath.Point p : LayerPath.build(load, local, GpuRelabel.relabel(local, target, slotsPerGpu), balancer,
          deadline)) {
        points.add(new LayerPath.Point(PlacementEvaluator.replicasMoved(served, p.map(), slotsPerGpu), p.maxLoad(),
            p.map(), p.left()));
      }
    }
    return new LayerOptions(points, toTarget, localMoves > 0 ? toTarget : 0, targetLoad);
  }

  /**
   * Index of the chosen point per layer, within {@code budget} replicas (negative: unlimited): the
   * best greedy allocation over all points, from the served maps or from the local search's, if it
   * comes at least an eighth of the budget closer to the target (or all the way); else the greedy
   * allocation over the points that lead to the target only.
   */
  static int[] allocate(List<LayerOptions> layers, int budget) {
    long left = budget < 0 ? Long.MAX_VALUE : budget;
    List<List<LayerPath.Point>> all = layers.stream().map(LayerOptions::points).toList();
    List<List<LayerPath.Point>> toTarget = layers.stream().map(o -> o.points().subList(0, o.toTarget())).toList();
    int[] path = greedy(toTarget, new int[layers.size()], left);
    int[] best = greedy(all, new int[layers.size()], left);
    int[] local = layers.stream().mapToInt(LayerOptions::local).toArray();
    long localMoves = sum(all, local, LayerPath.Point::moves);
    if (localMoves <= left) {
      int[] fromLocal = greedy(all, local, left - localMoves);
      if (maxLoadSum(all, fromLocal) < maxLoadSum(all, best)) {
        best = fromLocal;
      }
    }
    long start = sum(all, new int[layers.size()], LayerPath.Point::left);
    long closer = start - sum(all, best, LayerPath.Point::left);
    boolean progress = closer >= Math.min(left / 8, start);
    return progress && maxLoadSum(all, best) < maxLoadSum(all, path) ? best : path;
  }

  /**
   * Advances {@code at} by the change that lowers max load most per replica within {@code left}
   * while one does (back to a cheaper point too); then, with what is still left, along the path where
   * that costs no balance, all the way to the last point (the target) first, so that the last step
   * of a path ends there and a stretch of the path that gains nothing is still walked.
   */
  private static int[] greedy(List<List<LayerPath.Point>> points, int[] at, long left) {
    while (true) {
      int bestLayer = -1;
      int bestPoint = -1;
      double bestRatio = 0;
      for (int l = 0; l < points.size(); l++) {
        LayerPath.Point from = points.get(l).get(at[l]);
        for (int q = 0; q < points.get(l).size(); q++) {
          LayerPath.Point to = points.get(l).get(q);
          int cost = to.moves() - from.moves();
          double ratio = (from.maxLoad() - to.maxLoad()) / Math.max(1, cost);
          if (cost <= left && ratio > bestRatio) {
            bestRatio = ratio;
            bestLayer = l;
            bestPoint = q;
          }
        }
      }
      if (bestLayer < 0) {
        break;
      }
      left -= points.get(bestLayer).get(bestPoint).moves() - points.get(bestLayer).get(at[bestLayer]).moves();
      at[bestLayer] = bestPoint;
    }
    for (boolean toEnd : new boolean[] {true, false}) {
      for (int l = 0; l < points.size(); l++) {
        List<LayerPath.Point> path = points.get(l);
        LayerPath.Point from = path.get(at[l]);
        for (int q = path.size() - 1; q > at[l] && (!toEnd || q == path.size() - 1); q--) {
          int cost = path.get(q).moves() - from.moves();
          if (cost <= left && path.get(q).maxLoad() <= from.maxLoad() * (1 + 1e-9)) {
            left -= cost;
            at[l] = q;
            break;
          }
        }
      }
    }
    return at;
  }

  private static long sum(List<List<LayerPath.Point>> points, int[] at, ToIntFunction<LayerPath.Point> value) {
    long sum = 0;
    for (int l = 0; l < points.size(); l++) {
      sum += value.applyAsInt(points.get(l).get(at[l]));
    }
    return sum;
  }

  private static double maxLoadSum(List<List<LayerPath.Point>> points, int[] at) {
    double sum = 0;
    for (int l = 0; l < points.size(); l++) {
      sum += points.get(l).get(at[l]).maxLoad();
    }
    return sum;
  }

  private <T> List<T> inParallel(int n, IntFunction<T> task) {
    return ParallelLayers.map(options.threads(), n, task, "re-plan");
  }

  /** The maps with their best shares, as a solve would give them. */
  private static Placement placement(RoutingStats stats, ClusterSpec cluster, int[][] maps) {
    double[][] shares = new double[maps.length][];
    for (int l = 0; l < maps.length; l++) {
      shares[l] = stats.isDense(l)
          ? Placement.evenShares(maps[l], stats.experts())
          : PlacementSolver.bestShares(stats.load(l), maps[l], cluster,
              new ShareBalancer(stats.load(l), cluster.gpus(), cluster.slotsPerGpu()));
    }
    return new Placement(cluster.slotsPerGpu(), maps, shares, null);
  }
}

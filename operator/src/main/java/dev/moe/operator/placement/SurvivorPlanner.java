package dev.moe.operator.placement;

import dev.moe.placement.ClusterSpec;
import dev.moe.placement.Placement;
import dev.moe.placement.solve.PlacementSolver;
import dev.moe.stats.RoutingStats;
import java.util.Set;

/**
 * Placements for a model that has lost workers: which experts the survivors no longer serve, and a
 * plan on the survivors alone. The plan keeps the model's slot layout: a lost worker's slots hold
 * replicas with share 0, so no token is sent there, and its return needs no new layout.
 */
public final class SurvivorPlanner {

  private SurvivorPlanner() {}

  /** True when some expert of some layer has no replica with a share on a surviving worker. */
  public static boolean orphansExperts(Placement placement, ModelLayout layout, Set<Integer> lost, int experts) {
    for (int l = 0; l < placement.layers(); l++) {
      boolean[] served = new boolean[experts];
      int[] map = placement.physicalToLogical()[l];
      double[] shares = placement.replicaShares()[l];
      for (int s = 0; s < map.length; s++) {
        if (!lost.contains(layout.workerOfSlot(s)) && shares[s] > 0) {
          served[map[s]] = true;
        }
      }
      for (boolean b : served) {
        if (!b) {
          return true;
        }
      }
    }
    return false;
  }

  /** Workers none of whose slots has a share in any layer: those a survivors' plan left out. */
  public static Set<Integer> idleWorkers(Placement placement, ModelLayout layout) {
    Set<Integer> idle = new java.util.TreeSet<>();
    for (int w = 0; w < layout.workers(); w++) {
      idle.add(w);
    }
    for (int l = 0; l < placement.layers(); l++) {
      double[] shares = placement.replicaShares()[l];
      for (int s = 0; s < shares.length; s++) {
        if (shares[s] > 0) {
          idle.remove(layout.workerOfSlot(s));
        }
      }
    }
    return idle;
  }

  public static Placement plan(RoutingStats stats, ModelLayout layout, Set<Integer> lost) {
    int survivors = layout.workers() - lost.size();
    if (survivors < 1) {
      throw new InvalidModelException("no worker is left to serve the model");
    }
    int slotsPerGpu = layout.cluster().slotsPerGpu();
    int slotsPerWorker = layout.gpusPerWorker() * slotsPerGpu;
    if ((long) survivors * slotsPerWorker < layout.experts()) {
      throw new InvalidModelException("the " + survivors + " ready workers have " + survivors * slotsPerWorker
          + " slots, fewer than the " + layout.experts() + " experts of a layer");
    }
    ClusterSpec cluster = new ClusterSpec(survivors * layout.gpusPerWorker(), layout.gpusPerWorker(), slotsPerGpu);
    Placement onSurvivors = new PlacementSolver(layout.options()).solve(stats, cluster, null);
    int slots = layout.cluster().slots();
    int[][] maps = new int[stats.layers()][slots];
    double[][] shares = new double[stats.layers()][slots];
    for (int l = 0; l < stats.layers(); l++) {
      int k = 0;
      for (int w = 0; w < layout.workers(); w++) {
        boolean alive = !lost.contains(w);
        for (int i = 0; i < slotsPerWorker; i++) {
          int full = w * slotsPerWorker + i;
          int from = (alive ? k : i % survivors) * slotsPerWorker + i;
          maps[l][full] = onSurvivors.physicalToLogical()[l][from];
          shares[l][full] = alive ? onSurvivors.replicaShares()[l][from] : 0;
        }
        if (alive) {
          k++;
        }
      }
    }
    return new Placement(slotsPerGpu, maps, shares, onSurvivors.report());
  }
}

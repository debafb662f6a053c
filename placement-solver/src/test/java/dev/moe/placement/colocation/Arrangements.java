package dev.moe.placement.colocation;

import dev.moe.placement.ClusterSpec;
import dev.moe.placement.Placement;
import java.util.ArrayList;
import java.util.List;

/**
 * Test support: every arrangement of a placement's replicas (expert and share) onto the GPUs,
 * every GPU keeping its slot count and no GPU holding two replicas of one expert, for enumerating
 * the optimum of a colocation objective on small instances.
 */
public final class Arrangements {

  private Arrangements() {}

  /** All arrangements of every layer of {@code start}, layer by layer combined. */
  public static List<Placement> of(Placement start, ClusterSpec cluster) {
    List<Placement> out = new ArrayList<>();
    out.add(start);
    for (int l = 0; l < start.layers(); l++) {
      List<Placement> next = new ArrayList<>();
      for (Placement p : out) {
        for (int[] order : slotOrders(start.physicalToLogical()[l], cluster)) {
          int[][] maps = p.physicalToLogical().clone();
          double[][] shares = p.replicaShares().clone();
          maps[l] = new int[order.length];
          shares[l] = new double[order.length];
          for (int s = 0; s < order.length; s++) {
            maps[l][s] = start.physicalToLogical()[l][order[s]];
            shares[l][s] = start.replicaShares()[l][order[s]];
          }
          next.add(new Placement(start.slotsPerGpu(), maps, shares, null));
        }
      }
      out = next;
    }
    return out;
  }

  /** Permutations of the slots, as slot orders, that keep every expert's replicas on distinct GPUs. */
  private static List<int[]> slotOrders(int[] map, ClusterSpec cluster) {
    List<int[]> out = new ArrayList<>();
    permute(new int[map.length], new boolean[map.length], 0, map, cluster, out);
    return out;
  }

  private static void permute(int[] order, boolean[] used, int pos, int[] map, ClusterSpec cluster, List<int[]> out) {
    if (pos == order.length) {
      out.add(order.clone());
      return;
    }
    for (int s = 0; s < order.length; s++) {
      if (used[s]) {
        continue;
      }
      boolean clash = false;
      for (int t = pos - pos % cluster.slotsPerGpu(); t < pos; t++) {
        clash |= map[order[t]] == map[s];
      }
      if (!clash) {
        used[s] = true;
        order[pos] = s;
        permute(order, used, pos + 1, map, cluster, out);
        used[s] = false;
      }
    }
  }
}

package dev.moe.placement.baseline;

import dev.moe.placement.ClusterSpec;
import dev.moe.placement.Placement;
import dev.moe.placement.Placer;
import dev.moe.stats.RoutingStats;
import java.util.Arrays;
import java.util.Comparator;

/**
 * DeepSeek's expert-parallel load balancer (EPLB, {@code eplb.py}, as vLLM and SGLang use it),
 * ported layer by layer: replicate the expert with the most load per replica into each redundant
 * slot, then pack replicas onto GPUs heaviest first, each to the least-loaded GPU with a free slot.
 * Hierarchical mode first packs expert groups onto nodes and replicates within each node; like the
 * original it falls back to the global policy when the node count does not divide the group count.
 * An expert's tokens are split evenly over its replicas, as EPLB assumes.
 *
 * <p>Ties: the original sorts with torch's unstable sort; here equal weights keep index order, and
 * the least-loaded pack is the first one, as Python's {@code min} picks.
 */
public final class EplbPlacer implements Placer {

  /** Global: one pool of slots. Hierarchical: groups to nodes, then replicas within each node. */
  public enum Mode {
    GLOBAL,
    HIERARCHICAL
  }

  private final Mode mode;
  private final int groups;

  /**
   * @param groups the model's expert groups (DeepSeek-V3: 8); only hierarchical mode uses it
   */
  public EplbPlacer(Mode mode, int groups) {
    if (groups < 1) {
      throw new IllegalArgumentException("expert groups must be at least 1, got " + groups);
    }
    this.mode = mode;
    this.groups = groups;
  }

  @Override
  public String name() {
    return mode == Mode.GLOBAL ? "eplb-global" : "eplb-hierarchical";
  }

  @Override
  public Placement place(RoutingStats stats, ClusterSpec cluster) {
    int experts = stats.experts();
    if (cluster.slots() < experts) {
      throw new IllegalArgumentException(cluster.slots() + " slots cannot hold " + experts + " experts");
    }
    boolean hierarchical = mode == Mode.HIERARCHICAL && groups % cluster.nodes() == 0;
    if (hierarchical && (experts % groups != 0 || cluster.slots() % cluster.nodes() != 0)) {
      throw new IllegalArgumentException(
          "hierarchical EPLB needs experts (" + experts + ") divisible by groups (" + groups + ")");
    }
    int[][] map = new int[stats.layers()][];
    double[][] shares = new double[stats.layers()][];
    for (int layer = 0; layer < stats.layers(); layer++) {
      double[] w = stats.load(layer);
      map[layer] = hierarchical
          ? hierarchical(w, cluster.slots(), groups, cluster.nodes(), cluster.gpus())
          : hierarchical(w, cluster.slots(), 1, 1, cluster.gpus());
      shares[layer] = Placement.evenShares(map[layer], experts);
    }
    return new Placement(cluster.slotsPerGpu(), map, shares, null);
  }

  /** {@code rebalance_experts_hierarchical} for one layer: physical slot -> logical expert. */
  static int[] hierarchical(double[] weight, int physical, int groups, int nodes, int gpus) {
    int experts = weight.length;
    int groupSize = experts / groups;
    int groupsPerNode = groups / nodes;
    int slotsPerGpu = physical / gpus;

    // Step 1: pack expert groups onto nodes.
    double[] groupTokens = new double[groups];
    for (int e = 0; e < experts; e++) {
      groupTokens[e / groupSize] += weight[e];
    }
    int[][] groupPack = balancedPacking(groupTokens, nodes);
    // log2mlog: logical expert -> its index among the node-ordered ("middle") experts.
    int[] mlog2log = new int[experts];
    for (int e = 0; e < experts; e++) {
      int g = e / groupSize;
      int mlog = (groupPack[0][g] * groupsPerNode + groupPack[1][g]) * groupSize + e % groupSize;
      mlog2log[mlog] = e;
    }

    // Step 2: replicate within each node; Step 3: pack each node's replicas onto its GPUs.
    int perNode = experts / nodes;
    int physicalPerNode = physical / nodes;
    int gpusPerNode = gpus / nodes;
    int[] map = new int[physical];
    for (int n = 0; n < nodes; n++) {
      double[] tokens = new double[perNode];
      for (int i = 0; i < perNode; i++) {
        tokens[i] = weight[mlog2log[n * perNode + i]];
      }
      int[] phy2mlog = new int[physicalPerNode];
      int[] count = replicate(tokens, physicalPerNode, phy2mlog);
      double[] phyTokens = new double[physicalPerNode];
      for (int p = 0; p < physicalPerNode; p++) {
        phyTokens[p] = tokens[phy2mlog[p]] / count[phy2mlog[p]];
      }
      int[][] pack = balancedPacking(phyTokens, gpusPerNode);
      for (int p = 0; p < physicalPerNode; p++) {
        int slot = n * physicalPerNode + pack[0][p] * slotsPerGpu + pack[1][p];
        map[slot] = mlog2log[n * perNode + phy2mlog[p]];
      }
    }
    return map;
  }

  /**
   * {@code replicate_experts}: the first {@code experts} slots hold each expert once, every further
   * slot a replica of the expert with the most load per replica. Returns replica counts.
   */
  static int[] replicate(double[] weight, int physical, int[] phy2log) {
    int experts = weight.length;
    int[] count = new int[experts];
    for (int e = 0; e < experts; e++) {
      phy2log[e] = e;
      count[e] = 1;
    }
    for (int p = experts; p < physical; p++) {
      int best = 0;
      for (int e = 1; e < experts; e++) {
        if (weight[e] / count[e] > weight[best] / count[best]) {
          best = e;
        }
      }
      phy2log[p] = best;
      count[best]++;
    }
    return count;
  }

  /**
   * {@code balanced_packing}: items heaviest first, each into the least-loaded pack that still has
   * room; every pack gets {@code items / packs} items. Returns {pack, rank in pack} per item.
   */
  static int[][] balancedPacking(double[] weight, int packs) {
    int items = weight.length;
    int perPack = items / packs;
    int[] pack = new int[items];
    int[] rank = new int[items];
    Integer[] order = new Integer[items];
    for (int i = 0; i < items; i++) {
      order[i] = i;
    }
    Arrays.sort(order, Comparator.comparingDouble((Integer i) -> -weight[i]).thenComparingInt(i -> i));
    double[] packWeight = new double[packs];
    int[] packItems = new int[packs];
    for (int item : order) {
      int best = -1;
      for (int p = 0; p < packs; p++) {
        if (packItems[p] < perPack && (best < 0 || packWeight[p] < packWeight[best])) {
          best = p;
        }
      }
      pack[item] = best;
      rank[item] = packItems[best]++;
      packWeight[best] += weight[item];
    }
    return new int[][] {pack, rank};
  }

}

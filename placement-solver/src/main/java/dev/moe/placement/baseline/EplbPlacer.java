package dev.moe.placement.baseline;

import dev.moe.placement.ClusterSpec;
import dev.moe.placement.Placement;
import dev.moe.placement.Placer;
import dev.moe.stats.RoutingStats;
import java.util.Arrays;
import java.util.Comparator;
import java.util.stream.IntStream;

/**
 * DeepSeek's expert-parallelism load balancer (EPLB, {@code eplb.py} of deepseek-ai/EPLB, which
 * vLLM and SGLang ship as well), ported function by function and run layer by layer. The weight of
 * a layer is its {@code logical_count} row; the result is the Python's {@code phy2log}.
 *
 * <ul>
 *   <li>{@code balanced_packing} ({@link #balancedPacking}): items heaviest first, each into the
 *       lightest pack with room.
 *   <li>{@code replicate_experts} ({@link #replicateExperts}): each redundant slot goes to the
 *       expert with the most load per replica.
 *   <li>{@code rebalance_experts_hierarchical} ({@link #rebalanceHierarchical}): pack expert groups
 *       onto nodes, replicate within each node, pack each node's replicas onto its GPUs.
 *   <li>{@code rebalance_experts} ({@link #rebalanceExperts}): hierarchical when the node count
 *       divides the group count, else the global policy, which is the hierarchical one with one
 *       group and one node.
 * </ul>
 *
 * <p>{@link Mode#GLOBAL} always takes the global policy. {@link Mode#HIERARCHICAL} passes the
 * model's groups and the cluster's nodes to {@code rebalance_experts}, so, exactly as the Python
 * does, it falls back to the global policy when the nodes do not divide the groups (DeepSeek-V3's
 * 8 groups on 18 nodes, say).
 *
 * <p>Shares: EPLB assumes an expert's tokens split evenly over its replicas, so each slot serves
 * {@code 1 / replicas} of its expert. All-zero (dense) layers run through the same algorithm, which
 * handles zeros, so that every layer gets a valid map.
 *
 * <p>Differences from the Python, all in tie-breaking or rounding:
 *
 * <ul>
 *   <li>The Python sorts with {@code torch.sort(descending=True)}, which is not stable; here equal
 *       weights are taken in ascending index order. Python's {@code min} and torch's {@code max}
 *       take the first extreme; so do we.
 *   <li>Like the Python ({@code weight.float()}) we compute in float32, so that near-ties fall the
 *       same way. A group's total is the correctly rounded float32 sum; torch may sum in another
 *       order and differ in the last bit once a total passes 2^24.
 * </ul>
 */
public final class EplbPlacer implements Placer {

  /** Global: one pool of slots. Hierarchical: groups to nodes, then replicas within each node. */
  public enum Mode {
    GLOBAL,
    HIERARCHICAL
  }

  /** Pack index and rank within the pack of each item, as {@code balanced_packing} returns. */
  record Packing(int[] pack, int[] rank) {}

  /** Replica layout of {@code replicate_experts}: {@code phy2log} and {@code logcnt}. */
  record Replicas(int[] phy2log, int[] count) {}

  private final Mode mode;
  private final int groups;

  /**
   * @param groups the model's expert groups (DeepSeek-V3: 8 groups of 32); only {@link
   *     Mode#HIERARCHICAL} uses it
   */
  public EplbPlacer(Mode mode, int groups) {
    if (groups < 1) {
      throw new IllegalArgumentException("expert groups must be at least 1, got " + groups);
    }
    this.mode = mode;
    this.groups = groups;
  }


  @Override
  public Placement place(RoutingStats stats, ClusterSpec cluster) {
    int experts = stats.experts();
    if (cluster.slots() < experts) {
      throw new IllegalArgumentException("EPLB needs a slot per expert: " + cluster.gpus() + " GPUs x "
          + cluster.slotsPerGpu() + " slots = " + cluster.slots() + " slots for " + experts + " experts");
    }
    int numGroups = mode == Mode.GLOBAL ? 1 : groups;
    int numNodes = mode == Mode.GLOBAL ? 1 : cluster.nodes();
    if (numGroups % numNodes == 0 && experts % numGroups != 0) {
      throw new IllegalArgumentException("hierarchical EPLB needs the experts (" + experts
          + ") to split into " + numGroups + " equal groups");
    }
    int[][] maps = new int[stats.layers()][];
    double[][] shares = new double[stats.layers()][];
    for (int layer = 0; layer < stats.layers(); layer++) {
      maps[layer] = rebalanceExperts(
          toFloat(stats.load(layer)), cluster.slots(), numGroups, numNodes, cluster.gpus());
      shares[layer] = Placement.evenShares(maps[layer], experts);
    }
    return new Placement(cluster.slotsPerGpu(), maps, shares, null);
  }

  /** {@code rebalance_experts} for one layer: physical slot -> logical expert. */
  static int[] rebalanceExperts(float[] weight, int numReplicas, int numGroups, int numNodes, int numGpus) {
    return numGroups % numNodes == 0
        ? rebalanceHierarchical(weight, numReplicas, numGroups, numNodes, numGpus)
        : rebalanceHierarchical(weight, numReplicas, 1, 1, numGpus);
  }

  /** {@code rebalance_experts_hierarchical} for one layer: physical slot -> logical expert. */
  static int[] rebalanceHierarchical(
      float[] weight, int numPhysical, int numGroups, int numNodes, int numGpus) {
    int experts = weight.length;
    int groupSize = experts / numGroups;
    int groupsPerNode = numGroups / numNodes;
    int slotsPerGpu = numPhysical / numGpus;
    int logicalPerNode = experts / numNodes;
    int physicalPerNode = numPhysical / numNodes;
    int gpusPerNode = numGpus / numNodes;

    // Step 1: pack groups onto nodes. "mlog" numbers the experts node by node, so that node n owns
    // mlog [n * logicalPerNode, (n + 1) * logicalPerNode).
    float[] tokensPerGroup = new float[numGroups];
    for (int g = 0; g < numGroups; g++) {
      double sum = 0;
      for (int e = g * groupSize; e < (g + 1) * groupSize; e++) {
        sum += weight[e];
      }
      tokensPerGroup[g] = (float) sum;
    }
    Packing groupPacking = balancedPacking(tokensPerGroup, numNodes);
    int[] mlog2log = new int[experts];
    for (int e = 0; e < experts; e++) {
      int g = e / groupSize;
      int groupSlot = groupPacking.pack()[g] * groupsPerNode + groupPacking.rank()[g];
      mlog2log[groupSlot * groupSize + e % groupSize] = e;
    }

    int[] phy2log = new int[numPhysical];
    for (int node = 0; node < numNodes; node++) {
      // Step 2: replicate within the node.
      float[] tokensPerMlog = new float[logicalPerNode];
      for (int i = 0; i < logicalPerNode; i++) {
        tokensPerMlog[i] = weight[mlog2log[node * logicalPerNode + i]];
      }
      Replicas replicas = replicateExperts(tokensPerMlog, physicalPerNode);
      int[] phy2mlog = replicas.phy2log();

      // Step 3: pack the node's replicas onto its GPUs; a replica carries an equal part of its expert.
      float[] tokensPerPhy = new float[physicalPerNode];
      for (int p = 0; p < physicalPerNode; p++) {
        tokensPerPhy[p] = tokensPerMlog[phy2mlog[p]] / replicas.count()[phy2mlog[p]];
      }
      Packing packing = balancedPacking(tokensPerPhy, gpusPerNode);
      for (int p = 0; p < physicalPerNode; p++) {
        int slot = node * physicalPerNode + packing.pack()[p] * slotsPerGpu + packing.rank()[p];
        phy2log[slot] = mlog2log[node * logicalPerNode + phy2mlog[p]];
      }
    }
    return phy2log;
  }

  /**
   * {@code replicate_experts}: physical slots {@code 0..E-1} hold experts {@code 0..E-1}; each
   * further slot a replica of the expert with the most load per replica (the first on ties).
   */
  static Replicas replicateExperts(float[] weight, int numPhysical) {
    int numLogical = weight.length;
    int[] phy2log = new int[numPhysical];
    int[] count = new int[numLogical];
    for (int e = 0; e < numLogical; e++) {
      phy2log[e] = e;
      count[e] = 1;
    }
    for (int p = numLogical; p < numPhysical; p++) {
      int best = 0;
      for (int e = 1; e < numLogical; e++) {
        if (weight[e] / count[e] > weight[best] / count[best]) {
          best = e;
        }
      }
      phy2log[p] = best;
      count[best]++;
    }
    return new Replicas(phy2log, count);
  }

  /**
   * {@code balanced_packing}: every pack gets {@code items / packs} items; items go heaviest first
   * (ties by index), each into the lightest pack that has room (the first on ties). With one item
   * per pack the Python skips the greedy and puts item i into pack i; so do we.
   */
  static Packing balancedPacking(float[] weight, int numPacks) {
    int items = weight.length;
    int perPack = items / numPacks;
    int[] pack = new int[items];
    int[] rank = new int[items];
    if (perPack == 1) {
      Arrays.setAll(pack, i -> i);
      return new Packing(pack, rank);
    }
    float[] packWeight = new float[numPacks];
    int[] packItems = new int[numPacks];
    for (int item : descending(weight)) {
      int best = -1;
      for (int p = 0; p < numPacks; p++) {
        if (packItems[p] < perPack && (best < 0 || packWeight[p] < packWeight[best])) {
          best = p;
        }
      }
      pack[item] = best;
      rank[item] = packItems[best]++;
      packWeight[best] += weight[item];
    }
    return new Packing(pack, rank);
  }

  /** Indices by weight descending, equal weights by index ascending. */
  private static int[] descending(float[] weight) {
    Comparator<Integer> heavierFirst = (a, b) -> Float.compare(weight[b], weight[a]);
    return IntStream.range(0, weight.length)
        .boxed()
        .sorted(heavierFirst.thenComparing(Comparator.naturalOrder()))
        .mapToInt(Integer::intValue)
        .toArray();
  }

  /** The Python's {@code weight.float()}. */
  private static float[] toFloat(double[] row) {
    float[] w = new float[row.length];
    for (int i = 0; i < row.length; i++) {
      w[i] = (float) row[i];
    }
    return w;
  }
}

package dev.moe.runtime.rebalance;

import dev.moe.placement.InvalidPlacementException;
import dev.moe.placement.Placement;
import dev.moe.placement.PlacementJson;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntPredicate;

/**
 * One placement version as one worker uses it: which experts its slots hold and, for every
 * expert, the replica slots and their shares, from which its tokens' replicas are chosen. Slot
 * {@code s} (global index) lives on worker {@code s / slotsPerGpu} at local index {@code s %
 * slotsPerGpu}. Rows of dense layers are ignored.
 */
public final class SlotTable {

  private final long version;
  private final Placement placement;
  private final int rank;
  private final int[][][] replicas;
  private final double[][][] shares;

  private SlotTable(long version, Placement placement, int rank, int[][][] replicas, double[][][] shares) {
    this.version = version;
    this.placement = placement;
    this.rank = rank;
    this.replicas = replicas;
    this.shares = shares;
  }

  /**
   * Checks {@code placement} against the group and the model.
   *
   * @throws InvalidPlacementException naming {@code source}, the problem and where
   */
  public static SlotTable of(long version, Placement placement, int rank, int workers, int layers, int experts,
      IntPredicate isMoeLayer, String source) {
    placement = withDenseRows(placement, layers, isMoeLayer);
    if (placement.gpus() != workers || placement.slots() != workers * placement.slotsPerGpu()) {
      throw new InvalidPlacementException(source, "it places " + placement.slots() + " slots at "
          + placement.slotsPerGpu() + " per GPU, for " + placement.slots() / (double) placement.slotsPerGpu()
          + " GPUs, but the group has " + workers + " workers");
    }
    if (placement.layers() != layers) {
      throw new InvalidPlacementException(source, "it has " + placement.layers() + " layers, the model has " + layers
          + " (dense layers included, as in SGLang's files) of which " + moeLayers(layers, isMoeLayer)
          + " are MoE layers (the operator's form)");
    }
    int[][][] replicas = new int[layers][][];
    double[][][] shares = new double[layers][][];
    for (int l = 0; l < layers; l++) {
      if (!isMoeLayer.test(l)) {
        continue;
      }
      int[] map = placement.physicalToLogical()[l];
      double[] share = placement.replicaShares()[l];
      List<List<Integer>> slotsOf = new ArrayList<>();
      for (int e = 0; e < experts; e++) {
        slotsOf.add(new ArrayList<>());
      }
      for (int s = 0; s < map.length; s++) {
        if (map[s] < 0 || map[s] >= experts) {
          throw new InvalidPlacementException(source, "physical_to_logical_map[" + l + "][" + s + "] is " + map[s]
              + ", but the model has " + experts + " experts (0-" + (experts - 1) + ")");
        }
        if (!(share[s] >= 0) || Double.isInfinite(share[s])) {
          throw new InvalidPlacementException(source, "replica_shares[" + l + "][" + s + "] is " + share[s]
              + ", expected a share in [0, 1]");
        }
        slotsOf.get(map[s]).add(s);
      }
      replicas[l] = new int[experts][];
      shares[l] = new double[experts][];
      for (int e = 0; e < experts; e++) {
        List<Integer> slots = slotsOf.get(e);
        if (slots.isEmpty()) {
          throw new InvalidPlacementException(source, "layer " + l + " has no slot for expert " + e);
        }
        replicas[l][e] = slots.stream().mapToInt(Integer::intValue).toArray();
        shares[l][e] = slots.stream().mapToDouble(s -> share[s]).toArray();
        double sum = 0;
        for (double v : shares[l][e]) {
          sum += v;
        }
        if (Math.abs(sum - 1) > PlacementJson.SHARE_TOLERANCE) {
          throw new InvalidPlacementException(source, "layer " + l + ": the shares of expert " + e
              + "'s slots sum to " + sum + ", expected 1");
        }
      }
    }
    return new SlotTable(version, placement, rank, replicas, shares);
  }

  /**
   * A placement of the MoE layers only (as the operator solves it: its statistics drop the all-zero
   * dense rows), given the first MoE row again at each dense layer (rows of dense layers are
   * ignored) so that it is indexed by model layer; any other placement as is.
   */
  private static Placement withDenseRows(Placement placement, int layers, IntPredicate isMoeLayer) {
    int moe = moeLayers(layers, isMoeLayer);
    if (moe == layers || placement.layers() != moe) {
      return placement;
    }
    int[][] map = new int[layers][];
    double[][] shares = new double[layers][];
    int next = 0;
    for (int l = 0; l < layers; l++) {
      boolean isMoe = isMoeLayer.test(l);
      map[l] = placement.physicalToLogical()[isMoe ? next : 0];
      shares[l] = placement.replicaShares()[isMoe ? next++ : 0];
    }
    return new Placement(placement.slotsPerGpu(), map, shares, placement.report());
  }

  private static int moeLayers(int layers, IntPredicate isMoeLayer) {
    int n = 0;
    for (int l = 0; l < layers; l++) {
      n += isMoeLayer.test(l) ? 1 : 0;
    }
    return n;
  }

  public long version() {
    return version;
  }

  public Placement placement() {
    return placement;
  }

  public int slotsPerGpu() {
    return placement.slotsPerGpu();
  }

  /** The worker that holds global slot {@code slot}. */
  public int ownerOf(int slot) {
    return slot / placement.slotsPerGpu();
  }

  /** The index of global slot {@code slot} in its owner's bank. */
  public int localIndex(int slot) {
    return slot % placement.slotsPerGpu();
  }

  /** The experts of this worker's slots of {@code layer}, by local index. */
  public int[] localExperts(int layer) {
    return localExperts(layer, rank);
  }

  /** The experts of worker {@code worker}'s slots of {@code layer}, by local index. */
  public int[] localExperts(int layer, int worker) {
    int per = placement.slotsPerGpu();
    int[] experts = new int[per];
    System.arraycopy(placement.physicalToLogical()[layer], worker * per, experts, 0, per);
    return experts;
  }

  /**
   * Whether some slot of {@code worker} takes tokens (has a share) in some layer: a step on this
   * version needs that worker, while one whose slots all have share 0 (a survivors' plan leaving
   * out a lost worker) can be missing.
   */
  public boolean serves(int worker) {
    int per = placement.slotsPerGpu();
    for (int l = 0; l < replicas.length; l++) {
      double[] layer = placement.replicaShares()[l];
      for (int s = worker * per; s < (worker + 1) * per && replicas[l] != null; s++) {
        if (layer[s] > 0) {
          return true;
        }
      }
    }
    return false;
  }

  /** The global slots holding {@code expert} in {@code layer}. */
  public int[] replicas(int layer, int expert) {
    return replicas[layer][expert];
  }

  /** A fresh chooser for one layer; it keeps the state of its round robin. */
  public ReplicaChooser chooser(int layer) {
    return new ReplicaChooser(replicas[layer], shares[layer]);
  }
}

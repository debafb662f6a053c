package dev.moe.runtime.rebalance;

import dev.moe.runtime.nativelib.ExpertBank;

/**
 * One placement version staged on one worker: its slot table and, per MoE layer, the bank holding
 * this worker's slots (shared with other versions where the layer's slots did not change) and
 * the replica chooser its tokens use. Lifetime is managed by {@link SlotVersions}.
 */
public final class PlacementVersion {

  private final SlotTable table;
  private final ExpertBank[] banks;
  private final ReplicaChooser[] choosers;
  int users;
  boolean retired;

  PlacementVersion(SlotTable table, ExpertBank[] banks) {
    this.table = table;
    this.banks = banks;
    this.choosers = new ReplicaChooser[banks.length];
    for (int l = 0; l < banks.length; l++) {
      if (banks[l] != null) {
        choosers[l] = table.chooser(l);
      }
    }
  }

  public long version() {
    return table.version();
  }

  public SlotTable table() {
    return table;
  }

  /** This worker's slots of {@code layer}; null for a dense layer. */
  public ExpertBank bank(int layer) {
    return banks[layer];
  }

  public ReplicaChooser chooser(int layer) {
    return choosers[layer];
  }

  ExpertBank[] banks() {
    return banks;
  }
}

package dev.moe.runtime.rebalance;

/**
 * Picks, for each routed (token, choice), which replica slot of its expert serves it, so that the
 * slots' shares of the expert's tokens follow the placement's {@code replica_shares}.
 *
 * <p>Smooth weighted round robin (nginx's): every pick adds each replica's share to its credit and
 * takes the replica with the most credit, which then pays back the sum of the shares (1). Deterministic, and after n picks each
 * replica has served within one token of {@code n * share}, from the first tokens on, so even a
 * small batch splits as the placement says. A replica with share 0 is never picked.
 */
public final class ReplicaChooser {

  private final int[][] slots;
  private final double[][] shares;
  private final double[][] credit;
  private final double[] total;

  /**
   * @param slots per expert, its replica slots (global slot indices)
   * @param shares per expert, the share of each of those slots (summing to 1)
   */
  public ReplicaChooser(int[][] slots, double[][] shares) {
    this.slots = slots;
    this.shares = shares;
    this.credit = new double[slots.length][];
    this.total = new double[slots.length];
    for (int e = 0; e < slots.length; e++) {
      credit[e] = new double[slots[e].length];
      for (double share : shares[e]) {
        total[e] += share;
      }
    }
  }

  /** The global slot that serves the next (token, choice) routed to {@code expert}. */
  public int choose(int expert) {
    int[] replicas = slots[expert];
    if (replicas.length == 1) {
      return replicas[0];
    }
    synchronized (credit[expert]) {
      double[] c = credit[expert];
      double[] s = shares[expert];
      int best = 0;
      for (int i = 0; i < c.length; i++) {
        c[i] += s[i];
        if (c[i] > c[best]) {
          best = i;
        }
      }
      // The shares' own sum, not 1, so that their rounding cannot make the credits drift.
      c[best] -= total[expert];
      return replicas[best];
    }
  }
}

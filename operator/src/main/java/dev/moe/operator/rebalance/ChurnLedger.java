package dev.moe.operator.rebalance;

import dev.moe.crds.v1alpha1.ChurnStatus;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * The rebalances the churn budget counts: those rolled out in the last period, kept in the status
 * (so a restarted or new leader operator counts them too), oldest first.
 */
public record ChurnLedger(List<Entry> recent) {

  /** One rebalance rolled out. */
  public record Entry(Instant at, int replicasMoved) {}

  /** The ledger in {@code status}, as of {@code now}: only the rebalances of the period up to now. */
  public static ChurnLedger of(ChurnStatus status, RebalanceRules.Churn budget, Instant now) {
    List<Entry> recent = new ArrayList<>();
    if (status != null && status.getRecent() != null) {
      Instant start = now.minus(budget.period());
      for (var r : status.getRecent()) {
        Instant at = Instant.parse(r.getTime());
        if (at.isAfter(start)) {
          recent.add(new Entry(at, r.getReplicasMoved() == null ? 0 : r.getReplicasMoved()));
        }
      }
    }
    return new ChurnLedger(List.copyOf(recent));
  }

  public int rebalances() {
    return recent.size();
  }

  public int replicasMoved() {
    return recent.stream().mapToInt(Entry::replicasMoved).sum();
  }

  /** With one more rebalance. */
  public ChurnLedger plus(Instant at, int replicasMoved) {
    List<Entry> more = new ArrayList<>(recent);
    more.add(new Entry(at, replicasMoved));
    return new ChurnLedger(List.copyOf(more));
  }

  public ChurnStatus toStatus(RebalanceRules.Churn budget) {
    ChurnStatus s = new ChurnStatus();
    s.setPeriod(RebalanceDecider.format(budget.period()));
    s.setRebalances(rebalances());
    s.setReplicasMoved(replicasMoved());
    s.setMaxRebalances(budget.maxRebalances());
    s.setMaxReplicasMoved(budget.maxReplicasMoved());
    s.setRecent(recent.stream().map(e -> new ChurnStatus.Rebalanced(e.at().toString(), e.replicasMoved())).toList());
    return s;
  }
}

package dev.moe.operator.rebalance;

import dev.moe.crds.v1alpha1.ChurnBudget;
import dev.moe.crds.v1alpha1.RebalancingMode;
import dev.moe.crds.v1alpha1.RebalancingPolicy;
import dev.moe.operator.placement.Durations;
import java.time.Duration;

/**
 * A model's rebalancing policy with the defaults filled in. The defaults resist gamed or noisy
 * traffic: a trigger below the solver's usual balancedness, a gain threshold, a cool-down far
 * longer than the interval, a move budget of a tenth of the replicas, windows that saw at least
 * three quarters of the traffic, and a churn budget of four rebalances and two move budgets an hour.
 */
public record RebalanceRules(RebalancingMode mode, Duration window, Duration minInterval, double trigger,
    double minGain, Duration coolDown, int moveBudget, double minCoverage, Churn churn) {

  /** The churn budget: at most {@code maxRebalances} and {@code maxReplicasMoved} in any {@code period}. */
  public record Churn(Duration period, int maxRebalances, int maxReplicasMoved) {}

  public static RebalanceRules of(RebalancingPolicy policy, int layers, int slots) {
    RebalancingPolicy p = policy == null ? new RebalancingPolicy() : policy;
    int moveBudget = p.getMoveBudget() == null ? Math.max(1, layers * slots / 10) : p.getMoveBudget();
    ChurnBudget c = p.getChurnBudget() == null ? new ChurnBudget() : p.getChurnBudget();
    return new RebalanceRules(
        p.getMode() == null ? RebalancingMode.Auto : p.getMode(),
        Durations.parse(p.getStatisticsWindow(), Duration.ofMinutes(10), "rebalancing.statisticsWindow"),
        Durations.parse(p.getMinInterval(), Duration.ofMinutes(5), "rebalancing.minInterval"),
        p.getTriggerBalancedness() == null ? 0.9 : p.getTriggerBalancedness(),
        p.getMinPredictedGain() == null ? 0.02 : p.getMinPredictedGain(),
        Durations.parse(p.getCoolDown(), Duration.ofMinutes(30), "rebalancing.coolDown"),
        moveBudget,
        p.getMinStatisticsCoverage() == null ? 0.75 : p.getMinStatisticsCoverage(),
        new Churn(Durations.parse(c.getPeriod(), Duration.ofHours(1), "rebalancing.churnBudget.period"),
            c.getMaxRebalances() == null ? 4 : c.getMaxRebalances(),
            c.getMaxReplicasMoved() == null ? 2 * moveBudget : c.getMaxReplicasMoved()));
  }
}

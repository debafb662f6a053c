package dev.moe.operator.rebalance;

import dev.moe.crds.v1alpha1.RebalancingMode;
import dev.moe.crds.v1alpha1.RebalancingPolicy;
import dev.moe.operator.placement.Durations;
import java.time.Duration;

/**
 * A model's rebalancing policy with the defaults filled in. The defaults resist gamed or noisy
 * traffic: a trigger below the solver's usual balancedness, a gain threshold, a cool-down far
 * longer than the interval, and a move budget of a tenth of the replicas.
 */
public record RebalanceRules(RebalancingMode mode, Duration window, Duration minInterval, double trigger,
    double minGain, Duration coolDown, int moveBudget) {

  public static RebalanceRules of(RebalancingPolicy policy, int layers, int slots) {
    RebalancingPolicy p = policy == null ? new RebalancingPolicy() : policy;
    return new RebalanceRules(
        p.getMode() == null ? RebalancingMode.Auto : p.getMode(),
        Durations.parse(p.getStatisticsWindow(), Duration.ofMinutes(10), "rebalancing.statisticsWindow"),
        Durations.parse(p.getMinInterval(), Duration.ofMinutes(5), "rebalancing.minInterval"),
        p.getTriggerBalancedness() == null ? 0.9 : p.getTriggerBalancedness(),
        p.getMinPredictedGain() == null ? 0.02 : p.getMinPredictedGain(),
        Durations.parse(p.getCoolDown(), Duration.ofMinutes(30), "rebalancing.coolDown"),
        p.getMoveBudget() == null ? Math.max(1, layers * slots / 10) : p.getMoveBudget());
  }
}

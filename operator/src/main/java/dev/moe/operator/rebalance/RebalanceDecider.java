package dev.moe.operator.rebalance;

import dev.moe.crds.v1alpha1.Decision;
import dev.moe.crds.v1alpha1.RebalancingMode;
import dev.moe.operator.stats.Coverage;
import dev.moe.operator.stats.StatisticsWindow;
import dev.moe.placement.ClusterSpec;
import dev.moe.placement.Placement;
import dev.moe.placement.PlacementEvaluator;
import dev.moe.placement.PlacementReport;
import dev.moe.placement.solve.ReplanPath;
import dev.moe.placement.solve.SolverOptions;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;

/**
 * Decides whether to roll out a new placement for a window of statistics. A re-plan is considered
 * only when the observed balancedness is below the trigger (hysteresis: the solver's plans sit well
 * above it), and the cool-down since the last rollout has passed; the solver then plans a path from
 * the current placement to a fresh solve and returns its first step within the move budget, taken
 * only when the path's gain (the fresh solve's over the observed) clears the threshold, so that
 * budgeted steps go on to the target instead of stopping where one step gains little. A window that
 * saw too little of the traffic decides nothing, and the churn budget bounds the rebalances and
 * moved replicas of any period: traffic that flips between two expert sets gains from every re-plan,
 * so only the budget and the cool-down bound how often it is followed. In {@code Observe} mode the
 * same plan is reported and nothing moves.
 */
public final class RebalanceDecider {

  /** What was decided; {@code plan} is set when a rollout should happen. */
  public record Outcome(double observed, Optional<Verdict> verdict) {}

  /**
   * A decision for the history.
   *
   * @param plan the placement to roll out; null unless taken
   */
  public record Verdict(Decision decision, String reason, double predictedGain, int replicasMoved,
      Placement plan, double solveSeconds) {}

  private RebalanceDecider() {}

  /**
   * @param lastRebalance when the last rebalance was rolled out; null if never
   * @param churn the rebalances of the churn budget's period up to {@code now}
   */
  public static Outcome decide(RebalanceRules rules, SolverOptions solverOptions, ClusterSpec cluster,
      StatisticsWindow window, Placement current, Instant lastRebalance, ChurnLedger churn, Instant now) {
    double observed = observe(window, cluster, current);
    if (observed >= rules.trigger()) {
      return new Outcome(observed, Optional.empty());
    }
    Coverage coverage = window.coverage();
    if (coverage.tokenShare() < rules.minCoverage()) {
      return declined(observed, String.format("LowCoverage: the window saw %s, below"
          + " rebalancing.minStatisticsCoverage %.2f", coverage.describe(), rules.minCoverage()));
    }
    if (lastRebalance != null && Duration.between(lastRebalance, now).compareTo(rules.coolDown()) < 0) {
      return declined(observed, "CoolDown: the last rebalance was less than " + format(rules.coolDown()) + " ago");
    }
    RebalanceRules.Churn budget = rules.churn();
    if (churn.rebalances() >= budget.maxRebalances()) {
      return declined(observed, String.format("ChurnBudget: %d rebalances in the last %s, the most"
          + " rebalancing.churnBudget.maxRebalances allows", churn.rebalances(), format(budget.period())));
    }
    int movesLeft = budget.maxReplicasMoved() - churn.replicasMoved();
    if (movesLeft <= 0) {
      return declined(observed, String.format("ChurnBudget: %d replicas moved in the last %s, the most"
          + " rebalancing.churnBudget.maxReplicasMoved allows", churn.replicasMoved(), format(budget.period())));
    }
    // Within what the period has left: a plan that does not gain enough within it is declined below.
    int maxMoves = Math.min(rules.moveBudget(), movesLeft);
    ReplanPath.Step step = new ReplanPath(solverOptions.withMaxMoves(maxMoves)).plan(window.stats(), cluster, current);
    Placement plan = step.placement();
    PlacementReport report = plan.report();
    // A step is judged by where its path leads: the steps before the target may each gain little.
    double gain = report.targetBalancedness() - observed;
    double stepGain = report.balancedness() - observed;
    int moved = report.replicasMoved();
    if (gain < rules.minGain() || moved == 0) {
      return new Outcome(observed, Optional.of(new Verdict(Decision.DECLINED,
          String.format("GainBelowThreshold: +%.4f < %.4f", gain, rules.minGain())
              + (moved == 0 && gain >= rules.minGain() ? String.format(": no step within %d replicas gains on the"
                  + " way to %.4f", maxMoves, report.targetBalancedness()) : "")
              + (maxMoves < rules.moveBudget() ? " moving at most the " + maxMoves
                  + " replicas the churn budget has left" : ""), stepGain, moved, null, report.solveSeconds())));
    }
    String towards = String.format(", a step towards %.4f (%d replicas left)", report.targetBalancedness(),
        step.movesLeft());
    if (rules.mode() == RebalancingMode.Observe) {
      return new Outcome(observed, Optional.of(new Verdict(Decision.DECLINED,
          String.format("ObserveMode: would move %d replicas for +%.4f", moved, stepGain) + towards, stepGain, moved,
          null, report.solveSeconds())));
    }
    return new Outcome(observed, Optional.of(new Verdict(Decision.TAKEN,
        String.format("Rebalanced: balancedness %.4f -> %.4f", observed, report.balancedness()) + towards, stepGain,
        moved, plan, report.solveSeconds())));
  }

  /**
   * What a window too unsettled to fit a plan on decides: nothing above the trigger, else a decline
   * for {@code reason}.
   */
  public static Outcome hold(RebalanceRules rules, ClusterSpec cluster, StatisticsWindow window, Placement current,
      String reason) {
    double observed = observe(window, cluster, current);
    return observed >= rules.trigger() ? new Outcome(observed, Optional.empty()) : declined(observed, reason);
  }

  private static double observe(StatisticsWindow window, ClusterSpec cluster, Placement current) {
    return PlacementEvaluator.evaluate(window.stats(), cluster, current, null, 0).balancedness();
  }

  /** A duration as the spec writes it: 1h, 30m, 45s. */
  static String format(Duration d) {
    long s = d.toSeconds();
    return s % 3600 == 0 ? s / 3600 + "h" : s % 60 == 0 ? s / 60 + "m" : s + "s";
  }

  private static Outcome declined(double observed, String reason) {
    return new Outcome(observed, Optional.of(new Verdict(Decision.DECLINED, reason, 0, 0, null, 0)));
  }
}

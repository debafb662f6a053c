package dev.moe.operator.rebalance;

import dev.moe.crds.v1alpha1.Decision;
import dev.moe.crds.v1alpha1.RebalancingMode;
import dev.moe.placement.ClusterSpec;
import dev.moe.placement.Placement;
import dev.moe.placement.PlacementEvaluator;
import dev.moe.placement.PlacementReport;
import dev.moe.placement.solve.PlacementSolver;
import dev.moe.placement.solve.SolverOptions;
import dev.moe.stats.RoutingStats;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;

/**
 * Decides whether to roll out a new placement for a window of statistics. A re-plan is considered
 * only when the observed balancedness is below the trigger (hysteresis: the solver's plans sit well
 * above it), and the cool-down since the last rollout has passed; the solver then re-plans from the
 * current placement within the move budget, and the plan is taken only when its predicted gain
 * clears the threshold. In {@code Observe} mode the same plan is reported and nothing moves.
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
   */
  public static Outcome decide(RebalanceRules rules, SolverOptions solverOptions, ClusterSpec cluster,
      RoutingStats window, Placement current, Instant lastRebalance, Instant now) {
    double observed = PlacementEvaluator.evaluate(window, cluster, current, null, 0).balancedness();
    if (observed >= rules.trigger()) {
      return new Outcome(observed, Optional.empty());
    }
    if (lastRebalance != null && Duration.between(lastRebalance, now).compareTo(rules.coolDown()) < 0) {
      return new Outcome(observed, Optional.of(new Verdict(Decision.DECLINED,
          "CoolDown: the last rebalance was less than " + (rules.coolDown().toSeconds() % 60 == 0
              ? rules.coolDown().toMinutes() + "m" : rules.coolDown().toSeconds() + "s") + " ago", 0, 0, null, 0)));
    }
    Placement plan = new PlacementSolver(solverOptions.withMaxMoves(rules.moveBudget()))
        .solve(window, cluster, current);
    PlacementReport report = plan.report();
    double gain = report.balancedness() - observed;
    int moved = report.replicasMoved();
    if (gain < rules.minGain()) {
      return new Outcome(observed, Optional.of(new Verdict(Decision.DECLINED,
          String.format("GainBelowThreshold: +%.4f < %.4f", gain, rules.minGain()), gain, moved, null,
          report.solveSeconds())));
    }
    if (rules.mode() == RebalancingMode.Observe) {
      return new Outcome(observed, Optional.of(new Verdict(Decision.DECLINED,
          String.format("ObserveMode: would move %d replicas for +%.4f", moved, gain), gain, moved, null,
          report.solveSeconds())));
    }
    return new Outcome(observed, Optional.of(new Verdict(Decision.TAKEN,
        String.format("Rebalanced: balancedness %.4f -> %.4f", observed, report.balancedness()), gain, moved, plan,
        report.solveSeconds())));
  }
}

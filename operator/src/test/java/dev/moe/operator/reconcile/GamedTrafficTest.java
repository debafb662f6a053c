package dev.moe.operator.reconcile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moe.crds.v1alpha1.ChurnStatus;
import dev.moe.crds.v1alpha1.MoEModel;
import dev.moe.operator.testing.Models;
import dev.moe.operator.testing.OperatorTestBase;
import dev.moe.operator.testing.RecordedStatistics;
import dev.moe.operator.testing.Scenario;
import io.fabric8.kubernetes.api.model.Event;
import java.time.Duration;
import java.time.Instant;
import java.util.Comparator;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * A client that flips its requests between two expert sets every window: each flip makes the
 * serving placement lopsided and a re-plan gains a lot, so the gain threshold follows every flip.
 * Two models read the same flipping traffic side by side for {@link #RUN}, one with a churn budget
 * that does not bind, one with a budget of {@value #MAX_REBALANCES} rebalances and {@value
 * #MAX_MOVED} replicas per {@link #PERIOD}: the budgeted one stays within it over every period,
 * counted from the operator's Rebalance Events.
 */
class GamedTrafficTest extends OperatorTestBase {

  private static final Duration PERIOD = Duration.ofSeconds(20);
  private static final Duration RUN = Duration.ofSeconds(45);
  private static final int MAX_REBALANCES = 3;
  private static final int MAX_MOVED = 40;
  private static final Pattern MOVED = Pattern.compile(", (\\d+) replicas;");

  private record Rebalance(Instant at, int moved) {}

  private static String model(Scenario s, String name, int maxRebalances, int maxMoved) {
    return Models.small(s.ns, name, 4, """
        placement: {timeLimit: 1s}
        rebalancing: {mode: Auto, statisticsWindow: 1s, minInterval: 1s, triggerBalancedness: 0.9,
                      minPredictedGain: 0.05, coolDown: 1s, moveBudget: 20,
                      churnBudget: {period: %ds, maxRebalances: %d, maxReplicasMoved: %d}}
        """.formatted(PERIOD.toSeconds(), maxRebalances, maxMoved));
  }

  @Test
  void aClientFlippingBetweenTwoExpertSetsStaysWithinTheChurnBudget() throws InterruptedException {
    operator.statistics.alternate(RecordedStatistics.oneHotExpert(0), RecordedStatistics.oneHotExpert(15));
    Scenario s = new Scenario(client, "gamed");
    s.apply(model(s, "free", 100, 100_000));
    s.apply(model(s, "budgeted", MAX_REBALANCES, MAX_MOVED));
    s.readyWorkers("free", 4);
    s.readyWorkers("budgeted", 4);
    Thread.sleep(RUN.toMillis());

    List<Rebalance> free = rebalances(s, "free");
    List<Rebalance> budgeted = rebalances(s, "budgeted");
    int mostRebalances = mostPerPeriod(budgeted, false);
    int mostMoved = mostPerPeriod(budgeted, true);
    System.out.printf("flipping traffic for %ds, churn period %ds: without a binding budget %d rebalances, %d"
        + " replicas moved (most in a period: %d rebalances, %d replicas); with a budget of %d rebalances and %d"
        + " replicas per period: %d rebalances, %d replicas moved (most in a period: %d rebalances, %d replicas)%n",
        RUN.toSeconds(), PERIOD.toSeconds(), free.size(), moved(free), mostPerPeriod(free, false),
        mostPerPeriod(free, true), MAX_REBALANCES, MAX_MOVED, budgeted.size(), moved(budgeted), mostRebalances,
        mostMoved);
    assertTrue(free.size() > 2 * MAX_REBALANCES, "the flips are followed without a budget: " + free);
    assertTrue(mostRebalances <= MAX_REBALANCES, "rebalances in one period: " + budgeted);
    assertTrue(mostMoved <= MAX_MOVED, "replicas moved in one period: " + budgeted);
    assertTrue(budgeted.size() >= 2, "the budget still lets rebalances through: " + budgeted);

    MoEModel m = s.get("budgeted");
    assertTrue(m.getStatus().getRebalanceHistory().stream().anyMatch(d -> d.getReason().startsWith("ChurnBudget: ")
        || d.getReason().contains("the churn budget has left")), "decisions: " + m.getStatus().getRebalanceHistory()
        .stream().map(d -> d.getReason()).toList());
    ChurnStatus churn = m.getStatus().getChurn();
    assertEquals("20s", churn.getPeriod());
    assertEquals(MAX_REBALANCES, churn.getMaxRebalances());
    assertEquals(MAX_MOVED, churn.getMaxReplicasMoved());
    assertEquals(churn.getRecent().size(), churn.getRebalances());
    assertTrue(churn.getRebalances() <= MAX_REBALANCES && churn.getReplicasMoved() <= MAX_MOVED, "churn "
        + churn.getRebalances() + ", " + churn.getReplicasMoved());
    String metrics = operator.scrape();
    assertTrue(metrics.lines().anyMatch(l -> l.matches(
        "moe_churn_rebalances_max\\{model=\"budgeted\",namespace=\"gamed\",?\\} 3\\.0")), metrics);
    assertTrue(metrics.lines().anyMatch(l -> l.startsWith("moe_churn_replicas_moved{model=\"budgeted\"")), metrics);
  }

  /** The taken rebalances, from the operator's Rebalance Events (second precision), oldest first. */
  private static List<Rebalance> rebalances(Scenario s, String model) {
    return s.events(model).stream().filter(e -> "Rebalance".equals(e.getReason()))
        .map(GamedTrafficTest::rebalance).sorted(Comparator.comparing(Rebalance::at)).toList();
  }

  private static Rebalance rebalance(Event e) {
    Matcher m = MOVED.matcher(e.getMessage());
    assertTrue(m.find(), e.getMessage());
    return new Rebalance(Instant.parse(e.getFirstTimestamp()), Integer.parseInt(m.group(1)));
  }

  /**
   * The most rebalances (or replicas moved) within any period. Event times are cut to the second,
   * so two that look less than a period minus a second apart were less than a period apart.
   */
  private static int mostPerPeriod(List<Rebalance> rebalances, boolean replicas) {
    int most = 0;
    for (int i = 0; i < rebalances.size(); i++) {
      Instant end = rebalances.get(i).at().plus(PERIOD).minusSeconds(1);
      int sum = 0;
      for (int j = i; j < rebalances.size() && rebalances.get(j).at().isBefore(end); j++) {
        sum += replicas ? rebalances.get(j).moved() : 1;
      }
      most = Math.max(most, sum);
    }
    return most;
  }

  private static int moved(List<Rebalance> rebalances) {
    return rebalances.stream().mapToInt(Rebalance::moved).sum();
  }
}

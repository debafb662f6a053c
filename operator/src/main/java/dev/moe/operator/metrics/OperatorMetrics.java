package dev.moe.operator.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The operator's metrics (in Prometheus: moe_rebalances_total, moe_placement_solve_seconds,
 * moe_workers_ready, moe_churn_rebalances, moe_statistics_coverage, ...;
 * charts/moe-operator/dashboards/moe-operator.json queries them), one
 * series per model (namespace and name labels), never per layer or GPU: per-layer detail lives in
 * the ExpertPlacement and the workers' statistics.
 */
public final class OperatorMetrics {

  private record CounterName(String name, String help) {}

  private static final CounterName REBALANCES =
      new CounterName("moe.rebalances", "Placements rolled out by a rebalance");
  private static final CounterName DECLINED =
      new CounterName("moe.rebalances.declined", "Rebalances considered and declined");
  private static final CounterName MOVED = new CounterName("moe.replicas.moved", "Expert replicas moved by rebalances");
  private static final CounterName ERRORS = new CounterName("moe.reconcile.errors", "Reconciles that failed");

  private final MeterRegistry registry;
  private final Map<String, AtomicReference<Double>> gauges = new ConcurrentHashMap<>();

  public OperatorMetrics(MeterRegistry registry) {
    this.registry = registry;
  }

  /**
   * On every reconcile: the workers' gauges, and the model's counters and solve timer at 0 from
   * its first reconcile on, so that Prometheus' increase() sees the first rebalance (a series that
   * appears at 1 has no increase) and dashboards find every series of a model that is running.
   */
  public void reconciled(String ns, String model, int readyWorkers, int desiredWorkers) {
    gauge("moe.workers.ready", "Worker pods ready", ns, model).set((double) readyWorkers);
    gauge("moe.workers.desired", "Workers the model asks for (spec.parallelism.workers)", ns, model)
        .set((double) desiredWorkers);
    counter(REBALANCES, ns, model);
    counter(DECLINED, ns, model);
    counter(MOVED, ns, model);
    counter(ERRORS, ns, model);
    solveTimer(ns, model);
  }

  public void predictedBalancedness(String ns, String model, double v) {
    gauge("moe.placement.predicted.balancedness", "Balancedness the solver predicts for the current placement",
        ns, model).set(v);
  }

  public void observedBalancedness(String ns, String model, double v) {
    gauge("moe.placement.observed.balancedness", "Balancedness of the current placement on the last window",
        ns, model).set(v);
  }

  /** What the last window saw of the traffic: the share of its estimated tokens the answering workers counted. */
  public void statisticsCoverage(String ns, String model, double tokenShare) {
    gauge("moe.statistics.coverage", "Share of the last statistics window's estimated tokens that the answering"
        + " workers counted", ns, model).set(tokenShare);
  }

  /** The churn budget's use over its period, and its limits. */
  public void churn(String ns, String model, int rebalances, int replicasMoved, int maxRebalances,
      int maxReplicasMoved) {
    gauge("moe.churn.rebalances", "Rebalances rolled out in the churn budget's period", ns, model)
        .set((double) rebalances);
    gauge("moe.churn.rebalances.max", "Most rebalances the churn budget allows in its period", ns, model)
        .set((double) maxRebalances);
    gauge("moe.churn.replicas.moved", "Expert replicas moved by rebalances in the churn budget's period", ns, model)
        .set((double) replicasMoved);
    gauge("moe.churn.replicas.moved.max", "Most expert replicas the churn budget allows to move in its period",
        ns, model).set((double) maxReplicasMoved);
  }

  public void rebalance(String ns, String model, boolean taken, int replicasMoved) {
    counter(taken ? REBALANCES : DECLINED, ns, model).increment();
    if (taken) {
      counter(MOVED, ns, model).increment(replicasMoved);
    }
  }

  public void solve(String ns, String model, double seconds) {
    solveTimer(ns, model).record(Duration.ofNanos((long) (seconds * 1e9)));
  }

  public void reconcileError(String ns, String model) {
    counter(ERRORS, ns, model).increment();
  }

  private Timer solveTimer(String ns, String model) {
    return Timer.builder("moe.placement.solve").description("Wall time of placement solves")
        .tags("namespace", ns, "model", model).register(registry);
  }

  private Counter counter(CounterName c, String ns, String model) {
    return Counter.builder(c.name()).description(c.help()).tags("namespace", ns, "model", model).register(registry);
  }

  private AtomicReference<Double> gauge(String name, String help, String ns, String model) {
    return gauges.computeIfAbsent(name + "|" + ns + "|" + model, k -> {
      AtomicReference<Double> ref = new AtomicReference<>(Double.NaN);
      Gauge.builder(name, ref, AtomicReference::get).description(help).tags("namespace", ns, "model", model)
          .register(registry);
      return ref;
    });
  }
}

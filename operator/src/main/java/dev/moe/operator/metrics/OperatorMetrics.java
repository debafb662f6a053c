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
 * The operator's metrics (in Prometheus: moe_rebalances_total, moe_placement_solve_seconds, ...), one
 * series per model (namespace and name labels), never per layer or GPU: per-layer detail lives in
 * the ExpertPlacement and the workers' statistics.
 */
public final class OperatorMetrics {

  private final MeterRegistry registry;
  private final Map<String, AtomicReference<Double>> gauges = new ConcurrentHashMap<>();

  public OperatorMetrics(MeterRegistry registry) {
    this.registry = registry;
  }

  public void predictedBalancedness(String ns, String model, double v) {
    gauge("moe.placement.predicted.balancedness", "Balancedness the solver predicts for the current placement",
        ns, model).set(v);
  }

  public void observedBalancedness(String ns, String model, double v) {
    gauge("moe.placement.observed.balancedness", "Balancedness of the current placement on the last window",
        ns, model).set(v);
  }

  public void rebalance(String ns, String model, boolean taken, int replicasMoved) {
    counter(taken ? "moe.rebalances" : "moe.rebalances.declined",
        taken ? "Placements rolled out by a rebalance" : "Rebalances considered and declined", ns, model).increment();
    if (taken) {
      counter("moe.replicas.moved", "Expert replicas moved by rebalances", ns, model).increment(replicasMoved);
    }
  }

  public void solve(String ns, String model, double seconds) {
    Timer.builder("moe.placement.solve").description("Wall time of placement solves")
        .tags("namespace", ns, "model", model).register(registry).record(Duration.ofNanos((long) (seconds * 1e9)));
  }

  public void reconcileError(String ns, String model) {
    counter("moe.reconcile.errors", "Reconciles that failed", ns, model).increment();
  }

  private Counter counter(String name, String help, String ns, String model) {
    return Counter.builder(name).description(help).tags("namespace", ns, "model", model).register(registry);
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

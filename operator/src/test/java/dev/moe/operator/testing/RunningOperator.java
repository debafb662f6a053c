package dev.moe.operator.testing;

import dev.moe.crds.v1alpha1.MoEModel;
import dev.moe.operator.metrics.OperatorMetrics;
import dev.moe.operator.reconcile.MoEModelReconciler;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.javaoperatorsdk.operator.Operator;
import io.javaoperatorsdk.operator.api.config.LeaderElectionConfiguration;
import io.micrometer.prometheus.PrometheusConfig;
import io.micrometer.prometheus.PrometheusMeterRegistry;
import java.time.Clock;

/**
 * The operator's reconciler and dependents, run by the Java Operator SDK against the test's API
 * server, as Quarkus runs them in a cluster, with recorded statistics and fake workers.
 */
public final class RunningOperator implements AutoCloseable {

  public final RecordedStatistics statistics;
  public final FakeWorkers workers;
  public final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
  private final Operator operator;

  public RunningOperator(KubernetesClient client) {
    this(client, new RecordedStatistics(), new FakeWorkers());
  }

  /** An operator on the statistics and workers of an earlier one: a restart. */
  public RunningOperator(KubernetesClient client, RecordedStatistics statistics, FakeWorkers workers) {
    this(client, statistics, workers, null);
  }

  /** An operator that reconciles only while it holds the Lease of {@code election}, as the chart runs it. */
  public RunningOperator(KubernetesClient client, LeaderElectionConfiguration election) {
    this(client, new RecordedStatistics(), new FakeWorkers(), election);
  }

  private RunningOperator(KubernetesClient client, RecordedStatistics statistics, FakeWorkers workers,
      LeaderElectionConfiguration election) {
    this.statistics = statistics;
    this.workers = workers;
    operator = new Operator(o -> o.withKubernetesClient(client).withCloseClientOnStop(false)
        .withLeaderElectionConfiguration(election));
    operator.register(new MoEModelReconciler(statistics, workers, workers, new OperatorMetrics(registry),
        Clock.systemUTC()));
    operator.start();
  }

  /** Deletes every MoEModel, so the next test's operator starts on an empty cluster. */
  public static void deleteAllModels(KubernetesClient client) {
    client.resources(MoEModel.class).inAnyNamespace().delete();
  }

  public String scrape() {
    return registry.scrape();
  }

  @Override
  public void close() {
    operator.stop();
  }
}

package dev.moe.operator;

import dev.moe.operator.metrics.OperatorMetrics;
import dev.moe.operator.rollout.HttpWorkerPlacements;
import dev.moe.operator.rollout.WorkerPlacements;
import dev.moe.operator.serving.ApiProbe;
import dev.moe.operator.serving.HttpApiProbe;
import dev.moe.operator.stats.StatisticsSource;
import dev.moe.operator.stats.WorkerStatisticsScraper;
import dev.moe.operator.workers.WorkerHttp;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.micrometer.core.instrument.MeterRegistry;
import jakarta.enterprise.inject.Produces;
import jakarta.inject.Singleton;
import java.time.Clock;

/** What the reconciler is built from in a cluster: the workers' endpoints, real time, Quarkus' registry. */
public class OperatorBeans {

  @Produces
  @Singleton
  Clock clock() {
    return Clock.systemUTC();
  }

  @Produces
  @Singleton
  StatisticsSource statistics(KubernetesClient client, WorkerHttp http, Clock clock) {
    return new WorkerStatisticsScraper(client, http, clock);
  }

  @Produces
  @Singleton
  WorkerHttp workerHttp() {
    return new WorkerHttp();
  }

  @Produces
  @Singleton
  WorkerPlacements placements(KubernetesClient client, WorkerHttp http) {
    return new HttpWorkerPlacements(client, http);
  }

  @Produces
  @Singleton
  ApiProbe api(KubernetesClient client, WorkerHttp http) {
    return new HttpApiProbe(client, http);
  }

  @Produces
  @Singleton
  OperatorMetrics metrics(MeterRegistry registry) {
    return new OperatorMetrics(registry);
  }
}

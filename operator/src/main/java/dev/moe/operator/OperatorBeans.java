package dev.moe.operator;

import dev.moe.operator.metrics.OperatorMetrics;
import dev.moe.operator.rollout.HttpPlacementPublisher;
import dev.moe.operator.rollout.PlacementPublisher;
import dev.moe.operator.stats.StatisticsSource;
import dev.moe.operator.stats.WorkerStatisticsScraper;
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
  StatisticsSource statistics(KubernetesClient client, Clock clock) {
    return new WorkerStatisticsScraper(client, clock);
  }

  @Produces
  @Singleton
  PlacementPublisher publisher(KubernetesClient client) {
    return new HttpPlacementPublisher(client);
  }

  @Produces
  @Singleton
  OperatorMetrics metrics(MeterRegistry registry) {
    return new OperatorMetrics(registry);
  }
}

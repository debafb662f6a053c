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
import io.javaoperatorsdk.operator.api.config.LeaderElectionConfiguration;
import io.javaoperatorsdk.operator.api.config.LeaderElectionConfigurationBuilder;
import io.micrometer.core.instrument.MeterRegistry;
import jakarta.enterprise.context.Dependent;
import jakarta.enterprise.inject.Produces;
import jakarta.inject.Singleton;
import java.time.Clock;
import java.time.Duration;
import java.util.Optional;
import org.eclipse.microprofile.config.inject.ConfigProperty;

/**
 * What the reconciler is built from in a cluster: the workers' endpoints, real time, Quarkus'
 * registry; and the leader election among the operator's replicas.
 */
public class OperatorBeans {

  /**
   * Leader election through a Lease in the operator's own namespace, held by the pod's name: only
   * the holder reconciles; the other replicas keep their informers' caches warm and one takes over
   * once the holder stops renewing it (a holder that cannot renew in time exits, so two never
   * reconcile on purpose; the status writes' resourceVersion guards the rest). Quarkus' operator
   * SDK looks this bean up in the prod profile; null (the default, and outside a cluster) leaves
   * election off. The chart sets {@code MOE_LEADER_ELECTION_*} and the downward API's pod name and
   * namespace.
   */
  @Produces
  @Dependent
  LeaderElectionConfiguration leaderElection(
      @ConfigProperty(name = "moe.leader-election.enabled") boolean enabled,
      @ConfigProperty(name = "moe.leader-election.lease-name") String leaseName,
      @ConfigProperty(name = "moe.leader-election.namespace") Optional<String> namespace,
      @ConfigProperty(name = "moe.leader-election.identity") Optional<String> identity,
      @ConfigProperty(name = "moe.leader-election.lease-duration") Duration leaseDuration,
      @ConfigProperty(name = "moe.leader-election.renew-deadline") Duration renewDeadline,
      @ConfigProperty(name = "moe.leader-election.retry-period") Duration retryPeriod) {
    if (!enabled) {
      return null;
    }
    if (namespace.isEmpty() || identity.isEmpty()) {
      throw new IllegalStateException("leader election needs the pod's namespace and name: set POD_NAMESPACE and"
          + " POD_NAME (the chart does, from the downward API), or MOE_LEADER_ELECTION_ENABLED=false");
    }
    return LeaderElectionConfigurationBuilder.aLeaderElectionConfiguration(leaseName)
        .withLeaseNamespace(namespace.get()).withIdentity(identity.get())
        .withLeaseDuration(leaseDuration).withRenewDeadline(renewDeadline).withRetryPeriod(retryPeriod)
        .build();
  }

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

package dev.moe.localcluster.scale;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moe.crds.v1alpha1.Conditions;
import dev.moe.crds.v1alpha1.Decision;
import dev.moe.crds.v1alpha1.ExpertPlacement;
import dev.moe.crds.v1alpha1.MoEModel;
import dev.moe.crds.v1alpha1.RebalanceDecision;
import dev.moe.localcluster.system.LocalSystem;
import dev.moe.localcluster.system.ModelClient;
import dev.moe.localcluster.system.ShiftStatistics;
import dev.moe.localcluster.system.WorkerControl;
import dev.moe.localcluster.testing.ClusterScripts;
import dev.moe.stats.RoutingStatsReader;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.coordination.v1.Lease;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.Watch;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Predicate;
import java.util.function.Supplier;
import java.util.stream.LongStream;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two operator processes (the chart's two replicas, pods of the process node) against the real
 * control plane, with leader election on a short lease: a model of 32 kwok-simulated workers
 * rebalances on each traffic shift; the leader is SIGKILLed as soon as it has made a revision, the
 * other replica takes the Lease and reconciles, finishes that rollout, records its decision and
 * rebalances on the next shift. Then every revision number was made once and in order, every
 * rebalance's revision is in the history once, and no history entry seen on the way was lost.
 */
class LeaderElectionIT {

  private static final Path REPO = Path.of(System.getProperty("moe.repo.root", "..")).toAbsolutePath().normalize();
  private static final Path STATISTICS = REPO.resolve("data/routing/deepseek-v3-sglang");
  /** Ports of their own, apart from a developer's cluster and the other ITs'. */
  private static final Map<String, String> PORTS = Map.of("MOE_LOCAL_CLUSTER_PORT", "36443",
      "MOE_LOCAL_CLUSTER_ETCD_PORT", "32379", "MOE_LOCAL_CLUSTER_CONTROLLER_MANAGER_PORT", "40257",
      "MOE_LOCAL_CLUSTER_SCHEDULER_PORT", "40259", "MOE_LOCAL_CLUSTER_KWOK_PORT", "40247");
  private static final String NAMESPACE = "moe-leader";
  private static final String MODEL = "deepseek-v3";
  private static final int NODES = 4;
  private static final int GPUS_PER_NODE = 8;
  /** The Lease the chart's operator elects its leader with (operator's application.properties). */
  private static final String LEASE = "moe-operator-leader";
  /** Shorter than the chart's 15 s / 10 s / 2 s, so that the test is short. */
  private static final Duration LEASE_DURATION = Duration.ofSeconds(6);
  private static final Duration RETRY_PERIOD = Duration.ofSeconds(1);
  private static final Map<String, String> ELECTION = Map.of("leaderElection.leaseDuration", "6s",
      "leaderElection.renewDeadline", "4s", "leaderElection.retryPeriod", "1s");
  private static final String DECISION_ANNOTATION = "moe.dev/decision";
  private static final Duration TIMEOUT = Duration.ofSeconds(90);
  private static final String INSTALL = "the operator's install";

  @Test
  void theOtherReplicaTakesOverAKilledLeaderWithinTheLeaseAndNoDecisionIsLostOrMadeTwice(@TempDir Path tmp)
      throws Exception {
    Path state = tmp.resolve("state");
    try {
      ClusterScripts.run(PORTS, state, REPO.resolve("local-cluster/up.sh").toString(), "--kwok");
      Instant start = Instant.now();
      try (LocalSystem system = LocalSystem.start(REPO, state.resolve("kubeconfig"), state, System.out, ELECTION)) {
        KubernetesClient client = system.client();
        String first = await("both operator replicas Ready, one holding the Lease", () -> bothReady(client)
            ? holder(client) : Optional.empty());
        mark(start, INSTALL, "both operator replicas are Ready (the standby too); " + first + " leads");
        KwokNodes.create(client, NODES, GPUS_PER_NODE);
        RecordedTraffic traffic = new RecordedTraffic(RoutingStatsReader.read(STATISTICS.resolve(ShiftStatistics.DECODE)),
            RoutingStatsReader.read(STATISTICS.resolve(ShiftStatistics.PREFILL)), Duration.ofSeconds(10));
        ModelClient model = new ModelClient(client, NAMESPACE, MODEL);
        model.apply(STATISTICS.resolve(ShiftStatistics.DECODE), manifest());
        WorkerControl control = SimulatedWorkers.awaitControl(client, NAMESPACE, MODEL, TIMEOUT);
        History history = new History(model);
        try (Revisions revisions = new Revisions(client);
            SimulatedWorkers workers = new SimulatedWorkers(traffic, control, NODES * GPUS_PER_NODE);
            Watch pods = workers.serveEvery(client, NAMESPACE)) {
          history.await("the model Ready on r1", m -> ModelClient.isTrue(m, Conditions.READY) && served(m) == 1);
          mark(start, INSTALL, "the model is Ready on " + MODEL + "-r1");

          traffic.shift();
          history.await("a rebalance served after the shift to prefill", m -> served(m) > 1);
          mark(start, INSTALL, "the leader rebalanced for prefill: serving r" + served(model.get()));

          // Back to decode: the leader dies the moment it has made its revision for it, before or while it
          // records the decision and rolls it out.
          String killed = holder(client).orElseThrow();
          revisions.killOnRevisionAbove(revisions.highest(), process(client, killed));
          traffic.shift();
          Instant killedAt = await("a revision for the shift back to decode, and the leader killed",
              revisions::killedAt);
          long dying = revisions.highest();
          workers.mark(killedAt.plusMillis(100));
          // Nobody writes the status until the next leader: whether the dead one recorded its decision.
          boolean recorded = taken(model.get()).containsAll(revisions.decisionTimes());
          mark(start, INSTALL, "SIGKILLed the leader " + killed + " right after it made r" + dying + " (its decision "
              + (recorded ? "already in" : "not yet in") + " the status)");
          String next = await("another replica to take the Lease", () -> holder(client).filter(h -> !h.equals(killed)));
          double leaseTakeover = since(killedAt, Instant.now());
          Instant firstRequest = await("the new leader's first request to the workers",
              workers::firstRequestAfterMark);
          double reconcileTakeover = since(killedAt, firstRequest);
          mark(killedAt, "the kill", String.format(Locale.ROOT, "%s holds the Lease (%.1f s) and reconciles (%.1f s);"
              + " lease %d s, retry %d s", next, leaseTakeover, reconcileTakeover, LEASE_DURATION.toSeconds(),
              RETRY_PERIOD.toSeconds()));
          history.await("r" + dying + " served with its decision recorded", m -> served(m) >= dying
              && taken(m).containsAll(revisions.decisionTimes()));
          mark(killedAt, "the kill", "the new leader serves r" + served(model.get()) + " and recorded its decision");

          traffic.shift();
          MoEModel last = history.await("a rebalance decided and served by the new leader", m -> served(m) > dying
              && m.getStatus().getRebalanceHistory().stream().anyMatch(d -> d.getDecision() == Decision.TAKEN
                  && Instant.parse(d.getTime()).isAfter(killedAt)));
          mark(start, INSTALL, "the new leader rebalanced for prefill: serving r" + served(last));

          assertNotEquals(killed, next, "the other replica took over");
          assertTrue(leaseTakeover <= LEASE_DURATION.plus(RETRY_PERIOD.multipliedBy(2)).plusSeconds(2).toSeconds(),
              "the Lease was taken over " + leaseTakeover + " s after the kill");
          assertTrue(reconcileTakeover <= leaseTakeover + 5, "the new leader reconciled " + reconcileTakeover
              + " s after the kill");
          last = model.get();
          List<Long> numbers = revisions.numbers();
          assertEquals(LongStream.rangeClosed(1, numbers.size()).boxed().toList(), numbers.stream().sorted().toList(),
              "revisions made once each, no number skipped: " + numbers);
          List<String> decided = revisions.decisionTimes();
          assertEquals(decided.size(), new HashSet<>(decided).size(), "a decision made two revisions: " + decided);
          List<String> inHistory = taken(last);
          assertTrue(last.getStatus().getRebalanceHistory().size() < 10, "the history is not full, so nothing left it");
          assertEquals(inHistory.size(), new HashSet<>(inHistory).size(), "a decision recorded twice: " + inHistory);
          assertEquals(decided.stream().sorted().toList(), inHistory.stream().sorted().toList(), "each rebalance's revision is in the history, and only they");
          assertTrue(inHistory.containsAll(history.seen()), "history entries lost: seen " + history.seen() + ", now "
              + inHistory);
          System.out.printf(Locale.ROOT, "LeaderElectionIT: revisions %s, rebalances %d; the Lease taken over %.1f s"
              + " and the first reconcile %.1f s after the SIGKILL (lease %d s, renew deadline 4 s, retry %d s); "
              + "%d reconciles found another write first; %.1f s from the operator's install%n", numbers,
              inHistory.size(), leaseTakeover, reconcileTakeover, LEASE_DURATION.toSeconds(), RETRY_PERIOD.toSeconds(),
              reconciledAgain(system, client), since(start, Instant.now()));
        }
      }
    } finally {
      ClusterScripts.run(PORTS, state, REPO.resolve("local-cluster/down.sh").toString());
    }
  }

  /** How often an operator replica found its write beaten and reconciled again, as their logs say. */
  private static long reconciledAgain(LocalSystem system, KubernetesClient client) throws IOException {
    long found = 0;
    for (Pod pod : client.pods().inNamespace(LocalSystem.OPERATOR_NAMESPACE).list().getItems()) {
      try (var files = Files.list(system.node().podDir(LocalSystem.OPERATOR_NAMESPACE, pod.getMetadata().getName()))) {
        for (Path log : files.filter(f -> f.getFileName().toString().endsWith(".log")).toList()) {
          found += new String(Files.readAllBytes(log), StandardCharsets.ISO_8859_1).lines()
              .filter(l -> l.contains("reconciling again")).count();
        }
      }
    }
    return found;
  }

  private static boolean bothReady(KubernetesClient client) {
    Deployment d = client.apps().deployments().inNamespace(LocalSystem.OPERATOR_NAMESPACE).withName(LocalSystem.RELEASE)
        .get();
    return d != null && d.getStatus() != null && Integer.valueOf(2).equals(d.getStatus().getReadyReplicas());
  }

  private static Optional<String> holder(KubernetesClient client) {
    Lease lease = client.leases().inNamespace(LocalSystem.OPERATOR_NAMESPACE).withName(LEASE).get();
    return Optional.ofNullable(lease).map(l -> l.getSpec().getHolderIdentity());
  }

  /** The process of operator pod {@code name} (the process node's container ID is the pid). */
  private static ProcessHandle process(KubernetesClient client, String name) {
    Pod pod = client.pods().inNamespace(LocalSystem.OPERATOR_NAMESPACE).withName(name).get();
    String id = pod.getStatus().getContainerStatuses().getFirst().getContainerID();
    long pid = Long.parseLong(id.substring(id.indexOf("://") + 3));
    return ProcessHandle.of(pid).orElseThrow(() -> new AssertionError("no process " + pid + " for " + name));
  }

  /** The revision number the model serves; 0 before the first. */
  private static long served(MoEModel m) {
    var current = m.getStatus().getCurrentPlacement();
    String name = current == null ? null : current.getRevision();
    return name == null ? 0 : Long.parseLong(name.substring(name.lastIndexOf("-r") + 2));
  }

  /** The times of the taken decisions in the model's history. */
  private static List<String> taken(MoEModel m) {
    return m.getStatus().getRebalanceHistory() == null ? List.of() : m.getStatus().getRebalanceHistory().stream()
        .filter(d -> d.getDecision() == Decision.TAKEN).map(RebalanceDecision::getTime).toList();
  }

  /** The model, read every 100 ms while waiting on it, and every taken decision its history ever showed. */
  private static final class History {

    private final ModelClient model;
    private final Set<String> seen = ConcurrentHashMap.newKeySet();

    History(ModelClient model) {
      this.model = model;
    }

    MoEModel await(String what, Predicate<MoEModel> done) {
      return LeaderElectionIT.await(what, () -> {
        MoEModel m = model.get();
        if (m == null || m.getStatus() == null) {
          return Optional.empty();
        }
        seen.addAll(taken(m));
        return Optional.of(m).filter(done);
      });
    }

    Set<String> seen() {
      return seen;
    }
  }

  /**
   * Every ExpertPlacement of the model as it is created: its number, and the time of the decision it
   * carries; and a process SIGKILLed as soon as one appears above a number.
   */
  private static final class Revisions implements AutoCloseable {

    private final List<Long> numbers = Collections.synchronizedList(new ArrayList<>());
    private final Map<Long, String> decisions = new ConcurrentHashMap<>();
    private final AtomicReference<Instant> killedAt = new AtomicReference<>();
    private volatile long killAbove = Long.MAX_VALUE;
    private volatile ProcessHandle victim;
    private final Watch watch;

    Revisions(KubernetesClient client) {
      watch = client.resources(ExpertPlacement.class).inNamespace(NAMESPACE).watch(new Watcher<>() {
        @Override
        public void eventReceived(Action action, ExpertPlacement p) {
          if (action != Action.ADDED) {
            return;
          }
          long revision = p.getSpec().getRevision();
          if (revision > killAbove && killedAt.compareAndSet(null, Instant.now())) {
            victim.destroyForcibly();
          }
          var annotations = p.getMetadata().getAnnotations();
          if (annotations != null && annotations.containsKey(DECISION_ANNOTATION)) {
            decisions.put(revision, client.getKubernetesSerialization().unmarshal(
                annotations.get(DECISION_ANNOTATION), RebalanceDecision.class).getTime());
          }
          // After its decision: a waiter on the number finds both.
          numbers.add(revision);
        }

        @Override
        public void onClose(WatcherException cause) {}
      });
    }

    void killOnRevisionAbove(long revision, ProcessHandle process) {
      victim = process;
      killAbove = revision;
    }

    Optional<Instant> killedAt() {
      return Optional.ofNullable(killedAt.get());
    }

    long highest() {
      synchronized (numbers) {
        return numbers.stream().mapToLong(Long::longValue).max().orElse(0);
      }
    }

    List<Long> numbers() {
      synchronized (numbers) {
        return List.copyOf(numbers);
      }
    }

    List<String> decisionTimes() {
      return List.copyOf(decisions.values());
    }

    @Override
    public void close() {
      watch.close();
    }
  }

  private static Path manifest() throws URISyntaxException {
    return Path.of(LeaderElectionIT.class.getResource("/leader/deepseek-v3.yaml").toURI());
  }

  /** Polls every 100 ms until {@code value} gives one (a failure counts as not yet). */
  private static <T> T await(String what, Supplier<Optional<T>> value) {
    return Awaitility.await(what).atMost(TIMEOUT).pollInterval(Duration.ofMillis(100)).ignoreExceptions()
        .until(value::get, Optional::isPresent).orElseThrow();
  }

  /** Prints how long after {@code start} ({@code since}) {@code what} happened, as it happens. */
  private static void mark(Instant start, String since, String what) {
    System.out.printf(Locale.ROOT, "LeaderElectionIT: %6.1f s after %s: %s%n", since(start, Instant.now()), since,
        what);
  }

  private static double since(Instant from, Instant to) {
    return Duration.between(from, to).toMillis() / 1e3;
  }

}

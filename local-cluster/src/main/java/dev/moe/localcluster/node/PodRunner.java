package dev.moe.localcluster.node;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerState;
import io.fabric8.kubernetes.api.model.ContainerStateBuilder;
import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.ContainerStatusBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Probe;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Predicate;

/**
 * One pod on the process node, from its IP to its end: runs its init containers in order, each to
 * its end, then prepares and starts the process of its first container, probes it, and keeps the
 * pod's status true to it.
 *
 * <p>The main container is never restarted: a process that exits, or that its liveness probe
 * kills, leaves the pod Failed (or Succeeded on exit 0) whatever its restartPolicy, and the pod's
 * controller (StatefulSet, ReplicaSet) replaces it. A kubelet would restart the container in place.
 * An init container that fails is restarted in place, as a kubelet does (unless restartPolicy is
 * Never): the pod stays Pending, the container in CrashLoopBackOff with its last exit as
 * lastState, so what failed stays in the pod's status for its controllers to read.
 */
final class PodRunner {

  private static final System.Logger LOG = System.getLogger(PodRunner.class.getName());
  /** How often a pod still waiting for a Secret, a PVC or a token tries again. */
  private static final Duration RETRY = Duration.ofSeconds(2);
  /** The first wait before an init container that failed runs again; it doubles up to {@link #MAX_BACKOFF}, as a kubelet's. */
  private static final Duration BACKOFF = Duration.ofSeconds(10);
  private static final Duration MAX_BACKOFF = Duration.ofMinutes(5);
  /** How often a running pod's Secret, ConfigMap and token files are rewritten, as the kubelet keeps them current. */
  private static final Duration REFRESH = Duration.ofMinutes(1);

  record Services(PodStatusWriter writer, Launcher launcher, IpAllocator ips, HostsFile hosts, Predicate<String> ipsTaken) {
  }

  private final Services services;
  private final String key;
  private volatile Pod pod;
  private final CountDownLatch stopRequested = new CountDownLatch(1);
  /** Serializes status writes, so a later view is never overwritten by an earlier one. */
  private final ReentrantLock publishing = new ReentrantLock();
  private final List<Thread> helpers = new CopyOnWriteArrayList<>();
  private Thread thread;

  // The node's view of the pod, guarded by this.
  private String phase = "Pending";
  private String reason;
  private String message;
  private String ip;
  private String startTime;
  private ContainerState state = waiting("ContainerCreating", null);
  /** The init containers that have started, in order. */
  private final List<ContainerStatus> initStatuses = new ArrayList<>();
  private Long pid;
  private boolean started;
  private boolean ready;
  private Process process;
  private boolean stopping;
  private boolean deleteRequested;
  private boolean gone;
  private boolean nodeShutdown;
  private String killedBecause;
  private boolean finished;

  PodRunner(Services services, Pod pod) {
    this.services = services;
    this.pod = pod;
    this.key = pod.getMetadata().getNamespace() + "/" + pod.getMetadata().getName();
  }

  void start() {
    thread = Thread.ofVirtual().name("pod " + key).start(this::run);
  }

  /** The latest version of the pod object (labels and annotations may change). */
  void update(Pod latest) {
    pod = latest;
  }

  /** The pod is being deleted: SIGTERM, the grace period, SIGKILL, then the pod object goes. */
  void requestDelete() {
    boolean deleteNow;
    synchronized (this) {
      if (deleteRequested) {
        return;
      }
      deleteRequested = true;
      ready = false;
      deleteNow = finished;
    }
    if (deleteNow) {
      Thread.ofVirtual().start(this::deleteObject);
      return;
    }
    Thread.ofVirtual().start(this::publish);
    Long grace = pod.getMetadata().getDeletionGracePeriodSeconds();
    terminate(Duration.ofSeconds(grace != null ? grace : terminationGrace()), null);
  }

  /** The pod object is gone (force-deleted): its process goes at once. */
  void objectGone() {
    synchronized (this) {
      gone = true;
    }
    terminate(Duration.ZERO, null);
  }

  /** The node stops: the process gets at most {@code grace} after SIGTERM and the pod ends Failed. */
  void shutdown(Duration grace) {
    synchronized (this) {
      nodeShutdown = true;
    }
    Duration own = Duration.ofSeconds(terminationGrace());
    terminate(grace.compareTo(own) < 0 ? grace : own, null);
  }

  boolean awaitFinished(Duration timeout) throws InterruptedException {
    return thread == null || thread.join(timeout);
  }

  private long terminationGrace() {
    Long grace = pod.getSpec().getTerminationGracePeriodSeconds();
    return grace == null ? 30 : grace;
  }

  private void run() {
    try {
      if (pod.getStatus() != null && pod.getStatus().getPodIP() != null) {
        fail("ProcessLost", "the process node restarted, and this pod's process went with it");
        return;
      }
      synchronized (this) {
        ip = services.ips().allocate(services.ipsTaken());
        startTime = PodStatusWriter.now();
      }
      services.hosts().put(pod.getMetadata().getUid(), ip, pod.getMetadata().getNamespace(), pod.getSpec().getHostname(), pod.getSpec().getSubdomain());
      services.launcher().resetPodDir(pod);
      publish();
      if (!initialize()) {
        return;
      }
      Launcher.LaunchSpec spec = prepare(Launcher.container(pod));
      if (spec != null && launch(spec)) {
        int exit = process.waitFor();
        exited(exit);
      }
    } catch (IOException | RuntimeException e) {
      LOG.log(Level.WARNING, "pod " + key + ": " + e, e);
      fail("StartError", e.toString());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      helpers.forEach(Thread::interrupt);
      services.hosts().remove(pod.getMetadata().getUid());
      boolean deleteNow;
      synchronized (this) {
        if (ip != null) {
          services.ips().release(ip);
        }
        finished = true;
        deleteNow = deleteRequested && !gone;
      }
      if (nodeShutdownLeftPending()) {
        publish();
      }
      if (deleteNow) {
        deleteObject();
      }
    }
  }

  /** Volumes, environment and command, retried while the pod waits for something that may come. */
  private Launcher.LaunchSpec prepare(Container container) throws InterruptedException {
    while (stopRequested.getCount() > 0) {
      try {
        return services.launcher().prepare(pod, ip, container);
      } catch (Launcher.StartFailure f) {
        if (!f.retryable) {
          fail(f.reason, f.getMessage());
          return null;
        }
        synchronized (this) {
          state = waiting(f.reason, f.getMessage());
        }
        publish();
        stopRequested.await(RETRY.toMillis(), TimeUnit.MILLISECONDS);
      }
    }
    return null;
  }

  /**
   * Runs the init containers in order, each to its end, before the main container: one that exits
   * non-zero runs again after a back-off (its status waiting in CrashLoopBackOff, the exit and,
   * with the FallbackToLogsOnError policy, its log's tail as lastState), or with restartPolicy
   * Never fails the pod. False when the pod fails or stops first.
   */
  private boolean initialize() throws InterruptedException {
    List<Container> inits = pod.getSpec().getInitContainers() == null ? List.of() : pod.getSpec().getInitContainers();
    for (Container container : inits) {
      Duration backoff = BACKOFF;
      for (int restarts = 0; ; restarts++) {
        Boolean ok = runInit(container, restarts);
        if (ok == null) {
          return false;
        }
        if (ok) {
          break;
        }
        if (stopRequested.await(backoff.toMillis(), TimeUnit.MILLISECONDS)) {
          return false;
        }
        backoff = backoff.multipliedBy(2).compareTo(MAX_BACKOFF) > 0 ? MAX_BACKOFF : backoff.multipliedBy(2);
      }
    }
    return true;
  }

  /**
   * Runs one init container to its end: true on exit 0, false when it failed and is to run again,
   * null when the pod failed or stops.
   */
  private Boolean runInit(Container container, int restarts) throws InterruptedException {
    Launcher.LaunchSpec spec = prepare(container);
    if (spec == null) {
      return null;
    }
    Process init;
    String startedAt = PodStatusWriter.now();
    synchronized (this) {
      if (stopping) {
        return null;
      }
      try {
        init = spec.processBuilder(spec.command()).redirectOutput(ProcessBuilder.Redirect.appendTo(spec.logFile().toFile()))
            .start();
      } catch (IOException e) {
        fail("StartError", "cannot run init container " + container.getName() + ": " + e.getMessage());
        return null;
      }
      // Deleting the pod now stops this process.
      process = init;
      ContainerStatus running = initStatus(container, init.pid(),
          new ContainerStateBuilder().withNewRunning().withStartedAt(startedAt).endRunning().build());
      if (restarts == 0) {
        initStatuses.add(running);
      } else {
        running.setRestartCount(restarts);
        running.setLastState(initStatuses.getLast().getLastState());
        initStatuses.set(initStatuses.size() - 1, running);
      }
    }
    LOG.log(Level.INFO, "pod {0}: init container {1}: pid {2}: {3}", key, container.getName(), init.pid(),
        String.join(" ", spec.command()));
    publish();
    int exit = init.waitFor();
    String message = exit == 0 ? null : terminationMessage(container, spec.logFile());
    ContainerState ended = new ContainerStateBuilder().withNewTerminated().withExitCode(exit)
        .withReason(exit == 0 ? "Completed" : "Error").withMessage(message).withStartedAt(startedAt)
        .withFinishedAt(PodStatusWriter.now()).withContainerID("process://" + init.pid()).endTerminated().build();
    boolean again = exit != 0 && !"Never".equals(pod.getSpec().getRestartPolicy());
    synchronized (this) {
      process = null;
      if (stopping) {
        return null;
      }
      ContainerStatus status = initStatus(container, init.pid(), again ? waiting("CrashLoopBackOff",
          "back-off restarting failed container " + container.getName()) : ended);
      status.setRestartCount(restarts);
      status.setLastState(again ? ended : initStatuses.getLast().getLastState());
      initStatuses.set(initStatuses.size() - 1, status);
    }
    if (exit != 0 && !again) {
      fail("InitContainerFailed", "init container " + container.getName() + " exited with " + exit
          + (message == null ? "" : ": " + message));
      return null;
    }
    publish();
    return exit == 0;
  }

  private static ContainerStatus initStatus(Container container, long pid, ContainerState state) {
    boolean done = state.getTerminated() != null && state.getTerminated().getExitCode() == 0;
    return new ContainerStatusBuilder().withName(container.getName()).withImage(container.getImage()).withImageID("")
        .withContainerID("process://" + pid).withReady(done).withStarted(state.getRunning() != null)
        .withRestartCount(0).withState(state).build();
  }

  /**
   * A failed container's termination message as a kubelet takes it with FallbackToLogsOnError: the
   * log's last 80 lines, at most 2048 characters. (A process cannot write the File policy's
   * /dev/termination-log here.)
   */
  private static String terminationMessage(Container container, Path log) {
    if (!"FallbackToLogsOnError".equals(container.getTerminationMessagePolicy())) {
      return null;
    }
    try {
      List<String> lines = Files.readAllLines(log);
      String tail = String.join("\n", lines.subList(Math.max(0, lines.size() - 80), lines.size())).strip();
      return tail.length() > 2048 ? tail.substring(tail.length() - 2048) : tail;
    } catch (IOException e) {
      return null;
    }
  }

  private boolean launch(Launcher.LaunchSpec spec) {
    Container container = Launcher.container(pod);
    synchronized (this) {
      if (stopping) {
        return false;
      }
      try {
        process = spec.processBuilder(spec.command()).redirectOutput(ProcessBuilder.Redirect.appendTo(spec.logFile().toFile())).start();
      } catch (IOException e) {
        fail("StartError", "cannot run " + spec.command().getFirst() + ": " + e.getMessage());
        return false;
      }
      LOG.log(Level.INFO, "pod {0} on {1}: pid {2}: {3}", key, ip, process.pid(), String.join(" ", spec.command()));
      pid = process.pid();
      phase = "Running";
      state = new ContainerStateBuilder().withNewRunning().withStartedAt(PodStatusWriter.now()).endRunning().build();
      started = container.getStartupProbe() == null;
      ready = started && container.getReadinessProbe() == null;
    }
    publish();
    if (container.getStartupProbe() != null) {
      helper(() -> probe(container.getStartupProbe(), ProbeKind.STARTUP, container, spec));
    } else {
      startProbes(container, spec);
    }
    helper(() -> refreshFiles());
    return true;
  }

  private void startProbes(Container container, Launcher.LaunchSpec spec) {
    if (container.getReadinessProbe() != null) {
      helper(() -> probe(container.getReadinessProbe(), ProbeKind.READINESS, container, spec));
    }
    if (container.getLivenessProbe() != null) {
      helper(() -> probe(container.getLivenessProbe(), ProbeKind.LIVENESS, container, spec));
    }
  }

  private enum ProbeKind { STARTUP, READINESS, LIVENESS }

  private interface Interruptible {
    void run() throws InterruptedException;
  }

  private void helper(Interruptible task) {
    helpers.add(Thread.ofVirtual().name("pod " + key + " helper").start(() -> {
      try {
        task.run();
      } catch (InterruptedException e) {
        // the pod's process ended
      }
    }));
  }

  private void probe(Probe probe, ProbeKind kind, Container container, Launcher.LaunchSpec spec) throws InterruptedException {
    Thread.sleep(Duration.ofSeconds(Probes.initialDelay(probe)));
    int successes = 0;
    int failures = 0;
    while (true) {
      Probes.Result result = Probes.run(probe, container, spec);
      successes = result.ok() ? successes + 1 : 0;
      failures = result.ok() ? 0 : failures + 1;
      switch (kind) {
        case READINESS -> {
          if (successes >= Probes.successThreshold(probe)) {
            setReady(true);
          } else if (failures >= Probes.failureThreshold(probe)) {
            setReady(false);
          }
        }
        case LIVENESS, STARTUP -> {
          if (kind == ProbeKind.STARTUP && result.ok()) {
            synchronized (this) {
              started = true;
              ready = container.getReadinessProbe() == null;
            }
            publish();
            startProbes(container, spec);
            return;
          }
          if (failures >= Probes.failureThreshold(probe)) {
            Long grace = probe.getTerminationGracePeriodSeconds();
            terminate(Duration.ofSeconds(grace != null ? grace : terminationGrace()),
                (kind == ProbeKind.STARTUP ? "Startup" : "Liveness") + " probe failed: " + result.message());
            return;
          }
        }
      }
      Thread.sleep(Duration.ofSeconds(Probes.period(probe)));
    }
  }

  private void setReady(boolean value) {
    synchronized (this) {
      if (ready == value || stopping || !started) {
        return;
      }
      ready = value;
    }
    publish();
  }

  private void refreshFiles() throws InterruptedException {
    while (true) {
      Thread.sleep(REFRESH);
      try {
        services.launcher().writeFiles(pod, ip);
      } catch (Launcher.StartFailure | RuntimeException e) {
        LOG.log(Level.WARNING, "pod {0}: files not refreshed: {1}", key, e.getMessage());
      }
    }
  }

  /**
   * SIGTERM to the process (the container's PID 1), SIGKILL after {@code grace}; then SIGKILL to
   * what it started, which a container's cgroup would take down with it.
   */
  private void terminate(Duration grace, String because) {
    Process p;
    synchronized (this) {
      stopping = true;
      if (because != null && killedBecause == null) {
        killedBecause = because;
      }
      p = process;
    }
    stopRequested.countDown();
    if (p == null || !p.isAlive()) {
      return;
    }
    Thread.ofVirtual().start(() -> {
      List<ProcessHandle> tree = p.descendants().toList();
      p.destroy();
      try {
        if (!p.waitFor(grace.toMillis(), TimeUnit.MILLISECONDS)) {
          p.destroyForcibly();
        }
      } catch (InterruptedException e) {
        p.destroyForcibly();
      }
      tree.forEach(ProcessHandle::destroyForcibly);
    });
  }

  private void exited(int exitCode) {
    boolean write;
    synchronized (this) {
      String containerMessage = killedBecause;
      state = new ContainerStateBuilder().withNewTerminated()
          .withExitCode(exitCode)
          .withReason(exitCode == 0 ? "Completed" : "Error")
          .withMessage(containerMessage)
          .withStartedAt(state.getRunning() == null ? null : state.getRunning().getStartedAt())
          .withFinishedAt(PodStatusWriter.now())
          .withContainerID("process://" + pid)
          .endTerminated().build();
      started = false;
      ready = false;
      phase = exitCode == 0 && !nodeShutdown ? "Succeeded" : "Failed";
      if (nodeShutdown && !deleteRequested) {
        reason = "Terminated";
        message = "the process node stopped";
      } else if (killedBecause != null) {
        message = "container " + Launcher.container(pod).getName() + ": " + killedBecause;
      }
      write = !gone;
    }
    LOG.log(Level.INFO, "pod {0}: exited {1}", key, exitCode);
    if (write) {
      publish();
    }
  }

  private void fail(String why, String text) {
    synchronized (this) {
      phase = "Failed";
      reason = why;
      message = text;
      state = waiting(why, text);
      ready = false;
    }
    LOG.log(Level.INFO, "pod {0}: {1}: {2}", key, why, text);
    publish();
  }

  /** A pod that had no process yet when the node stopped ends Failed too. */
  private synchronized boolean nodeShutdownLeftPending() {
    if (nodeShutdown && !deleteRequested && !gone && phase.equals("Pending")) {
      phase = "Failed";
      reason = "Terminated";
      message = "the process node stopped before this pod's process started";
      return true;
    }
    return false;
  }

  private static ContainerState waiting(String reason, String message) {
    return new ContainerStateBuilder().withNewWaiting().withReason(reason).withMessage(message).endWaiting().build();
  }

  private void publish() {
    publishing.lock();
    try {
      PodStatusWriter.View view;
      synchronized (this) {
        if (gone) {
          return;
        }
        view = new PodStatusWriter.View(phase, reason, message, ip, startTime, List.copyOf(initStatuses), state, pid,
            started, ready);
      }
      services.writer().write(pod, view);
    } catch (KubernetesClientException e) {
      LOG.log(Level.WARNING, "pod {0}: status not written: {1}", key, e.getMessage());
    } finally {
      publishing.unlock();
    }
  }

  private void deleteObject() {
    try {
      services.writer().delete(pod);
    } catch (KubernetesClientException e) {
      LOG.log(Level.WARNING, "pod {0}: not deleted: {1}", key, e.getMessage());
    }
  }
}

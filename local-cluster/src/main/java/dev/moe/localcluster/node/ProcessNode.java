package dev.moe.localcluster.node;

import com.sun.management.OperatingSystemMXBean;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import java.lang.System.Logger.Level;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * A Kubernetes node whose pods run as local processes: it registers a Node, keeps its Lease, and
 * runs each pod bound to it (spec.nodeName) as a process of this machine with a loopback address of
 * its own as pod IP; see {@link PodRunner} and {@link Launcher} for what a pod gets. Use it as
 * {@code try (var node = ProcessNode.builder(client, stateDir, images).build().start()) {...}}:
 * {@link #close()} (or, if the JVM exits first, a shutdown hook) stops every process it started.
 *
 * <p>ClusterIP Services get a user-space proxy on a loopback address of their own ({@link ServiceProxy}).
 *
 * <p>Under the state directory: {@code pods/<ns>_<pod>/} per pod (its {@code <container>.log},
 * volumes and kubeconfig) and {@code hosts}, the pods' names for JVM pods.
 */
public final class ProcessNode implements AutoCloseable {

  public static final String DEFAULT_NAME = "moe-local";
  /** The node's address, and each pod's host IP. */
  public static final String NODE_IP = "127.0.0.1";
  /** At most this long between SIGTERM and SIGKILL for a pod when the node stops. */
  static final Duration SHUTDOWN_GRACE = Duration.ofSeconds(5);

  private static final System.Logger LOG = System.getLogger(ProcessNode.class.getName());
  /** Every this many Lease renewals the Ready condition's heartbeat is written too. */
  private static final int STATUS_EVERY = 6;

  private final KubernetesClient client;
  private final String name;
  private final Path stateDir;
  private final Duration leaseRenewal;
  private final NodeRegistration registration;
  private final PodStatusWriter writer;
  private final Launcher launcher;
  private final HostsFile hosts;
  private final ServiceProxy serviceProxy;
  private final IpAllocator ips = new IpAllocator(IpAllocator.PODS);
  private final Map<String, PodRunner> runners = new ConcurrentHashMap<>();
  private ScheduledExecutorService heartbeats;
  private SharedIndexInformer<Pod> informer;
  private Thread shutdownHook;
  private volatile boolean closed;

  private ProcessNode(Builder b) {
    client = b.client;
    name = b.name;
    stateDir = b.stateDir.toAbsolutePath().normalize();
    leaseRenewal = b.leaseRenewal;
    Map<String, String> labels = new LinkedHashMap<>(Map.of(
        "kubernetes.io/hostname", name,
        "kubernetes.io/os", "linux",
        "kubernetes.io/arch", NodeRegistration.arch(),
        "moe.dev/process-node", "true",
        "nvidia.com/gpu.present", "true"));
    labels.putAll(b.labels);
    registration = new NodeRegistration(client, name, labels, b.capacity, NODE_IP);
    writer = new PodStatusWriter(client, NODE_IP);
    hosts = new HostsFile(stateDir);
    serviceProxy = new ServiceProxy(client, hosts, () -> informer.getStore().list());
    launcher = new Launcher(client, b.images, hosts, stateDir.resolve("pods"), NODE_IP);
  }

  public static Builder builder(KubernetesClient client, Path stateDir, ImageTable images) {
    return new Builder(client, stateDir, images);
  }

  public static final class Builder {
    private final KubernetesClient client;
    private final Path stateDir;
    private final ImageTable images;
    private String name = DEFAULT_NAME;
    private final Map<String, Quantity> capacity = new LinkedHashMap<>();
    private final Map<String, String> labels = new LinkedHashMap<>();
    private Duration leaseRenewal = Duration.ofSeconds(10);

    private Builder(KubernetesClient client, Path stateDir, ImageTable images) {
      this.client = Objects.requireNonNull(client);
      this.stateDir = Objects.requireNonNull(stateDir);
      this.images = Objects.requireNonNull(images);
      long memory = ((OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getTotalMemorySize();
      capacity.put("cpu", new Quantity(String.valueOf(Runtime.getRuntime().availableProcessors())));
      capacity.put("memory", new Quantity(String.valueOf(memory)));
      capacity.put("pods", new Quantity("110"));
      capacity.put("nvidia.com/gpu", new Quantity("8"));
    }

    public Builder name(String name) {
      this.name = Objects.requireNonNull(name);
      return this;
    }

    /** Sets (or adds) a resource of the node's capacity and allocatable, e.g. {@code nvidia.com/gpu}, {@code 8}. */
    public Builder capacity(String resource, String quantity) {
      capacity.put(resource, new Quantity(quantity));
      return this;
    }

    public Builder label(String key, String value) {
      labels.put(key, value);
      return this;
    }

    public Builder leaseRenewal(Duration every) {
      this.leaseRenewal = every;
      return this;
    }

    public ProcessNode build() {
      return new ProcessNode(this);
    }
  }

  /** Registers the Node, starts the heartbeat and runs the pods bound to it, until {@link #close()}. */
  public synchronized ProcessNode start() {
    if (informer != null || closed) {
      throw new IllegalStateException("process node " + name + " was started already");
    }
    registration.register();
    shutdownHook = new Thread(this::close, "process node " + name + " shutdown");
    Runtime.getRuntime().addShutdownHook(shutdownHook);
    heartbeats = Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().daemon().name("process node heartbeat").factory());
    int[] beats = {0};
    heartbeats.scheduleAtFixedRate(() -> {
      try {
        registration.heartbeat(++beats[0] % STATUS_EVERY == 0);
      } catch (KubernetesClientException e) {
        LOG.log(Level.WARNING, "node {0}: heartbeat failed: {1}", name, e.getMessage());
      }
    }, leaseRenewal.toMillis(), leaseRenewal.toMillis(), TimeUnit.MILLISECONDS);
    // Assigned before it runs: the runners of the first pods ask it which IPs are taken.
    informer = client.pods().inAnyNamespace().withField("spec.nodeName", name).runnableInformer(0);
    informer.addEventHandler(new ResourceEventHandler<>() {
      @Override
      public void onAdd(Pod pod) {
        onPod(pod);
      }

      @Override
      public void onUpdate(Pod old, Pod pod) {
        onPod(pod);
      }

      @Override
      public void onDelete(Pod pod, boolean finalStateUnknown) {
        PodRunner runner = runners.remove(pod.getMetadata().getUid());
        if (runner != null) {
          runner.objectGone();
        }
      }
    });
    informer.run();
    serviceProxy.start();
    LOG.log(Level.INFO, "process node {0} started; pods under {1}", name, stateDir.resolve("pods"));
    return this;
  }

  private void onPod(Pod pod) {
    if (closed) {
      return;
    }
    boolean deleting = pod.getMetadata().getDeletionTimestamp() != null;
    PodRunner runner = runners.get(pod.getMetadata().getUid());
    if (runner == null) {
      String phase = pod.getStatus() == null ? null : pod.getStatus().getPhase();
      if ("Succeeded".equals(phase) || "Failed".equals(phase)) {
        // Ended before this node (re)started: nothing runs; a deletion only needs confirming.
        if (deleting) {
          Thread.ofVirtual().start(() -> writer.delete(pod));
        }
        return;
      }
      runner = new PodRunner(new PodRunner.Services(writer, launcher, ips, hosts, this::ipTakenByAnotherPod), pod);
      runners.put(pod.getMetadata().getUid(), runner);
      runner.start();
    } else {
      runner.update(pod);
    }
    if (deleting) {
      runner.requestDelete();
    }
  }

  /** Pods that this run of the node did not start may still show an IP (e.g. from a run before a restart). */
  private boolean ipTakenByAnotherPod(String ip) {
    return informer.getStore().list().stream()
        .anyMatch(p -> p.getStatus() != null && ip.equals(p.getStatus().getPodIP()));
  }

  public String name() {
    return name;
  }

  public Path stateDir() {
    return stateDir;
  }

  /** Where a pod's log ({@code <container>.log}), volumes and kubeconfig are. */
  public Path podDir(String namespace, String pod) {
    return launcher.podDir(namespace, pod);
  }

  /**
   * The loopback address this node serves a ClusterIP Service's DNS name ({@code <svc>.<ns>.svc})
   * on, for programs in this JVM (JVM pods resolve it through the hosts file).
   */
  public Optional<String> resolveService(String host) {
    return serviceProxy.resolve(host);
  }

  /** The hosts file that JVM pods resolve names with. */
  public Path hostsFile() {
    return hosts.path();
  }

  /**
   * Stops every pod's process (SIGTERM, at most {@link #SHUTDOWN_GRACE}, SIGKILL), marks the pods
   * Failed and the Node NotReady. The pod objects stay, as with a kubelet that shuts down.
   */
  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    if (shutdownHook != null && Thread.currentThread() != shutdownHook) {
      try {
        Runtime.getRuntime().removeShutdownHook(shutdownHook);
      } catch (IllegalStateException e) {
        // the JVM is exiting, and the hook runs this anyway
      }
    }
    if (informer != null) {
      informer.stop();
    }
    serviceProxy.close();
    if (heartbeats != null) {
      heartbeats.shutdownNow();
    }
    runners.values().forEach(r -> r.shutdown(SHUTDOWN_GRACE));
    long deadline = System.nanoTime() + SHUTDOWN_GRACE.plusSeconds(5).toNanos();
    try {
      for (PodRunner runner : runners.values()) {
        if (!runner.awaitFinished(Duration.ofNanos(Math.max(1, deadline - System.nanoTime())))) {
          LOG.log(Level.WARNING, "node {0}: a pod's status was not written before the node stopped", name);
        }
      }
      if (informer != null) {
        registration.markNotReady();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (KubernetesClientException e) {
      LOG.log(Level.WARNING, "node {0}: not marked NotReady: {1}", name, e.getMessage());
    }
  }
}

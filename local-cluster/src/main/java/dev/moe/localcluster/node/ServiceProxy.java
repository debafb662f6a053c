package dev.moe.localcluster.node;

import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.System.Logger.Level;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/**
 * What kube-proxy does for ClusterIP Services, in user space for this node: each Service with a
 * selector gets a loopback address of its own (from 127.11.0.0/16, as its ClusterIP has no route
 * here), listens there on the Service's TCP ports, and hands each connection to the next ready pod
 * that the Service selects, round robin. The Service's DNS names ({@code <svc>.<ns>.svc[.cluster.local]})
 * resolve to that address in JVM pods (the hosts file) and through {@link #resolve(String)} for
 * programs in this JVM, so a URL the operator writes into a status works as it would in a cluster.
 */
final class ServiceProxy implements AutoCloseable {

  private static final System.Logger LOG = System.getLogger(ServiceProxy.class.getName());
  private static final int CONNECT_TIMEOUT_MS = 3000;

  private final KubernetesClient client;
  private final HostsFile hosts;
  private final IpAllocator ips = new IpAllocator(IpAllocator.SERVICES);
  private final Supplier<List<Pod>> pods;
  private final Map<String, Proxied> services = new ConcurrentHashMap<>();
  private SharedIndexInformer<Service> serviceInformer;

  /** @param pods the pods of this node, as its informer knows them */
  ServiceProxy(KubernetesClient client, HostsFile hosts, Supplier<List<Pod>> pods) {
    this.client = client;
    this.hosts = hosts;
    this.pods = pods;
  }

  void start() {
    serviceInformer = client.services().inAnyNamespace().runnableInformer(0);
    serviceInformer.addEventHandler(new ResourceEventHandler<>() {
      @Override
      public void onAdd(Service s) {
        onService(s);
      }

      @Override
      public void onUpdate(Service old, Service s) {
        onService(s);
      }

      @Override
      public void onDelete(Service s, boolean finalStateUnknown) {
        Proxied p = services.remove(key(s));
        if (p != null) {
          p.close();
        }
      }
    });
    serviceInformer.run();
  }

  /** The address a Service's DNS name stands for here, if {@code host} names a proxied Service. */
  Optional<String> resolve(String host) {
    String name = host.endsWith(".cluster.local") ? host.substring(0, host.length() - ".cluster.local".length()) : host;
    return services.values().stream().filter(p -> p.dnsName.equals(name)).map(p -> p.ip).findFirst();
  }

  private static String key(Service s) {
    return s.getMetadata().getNamespace() + "/" + s.getMetadata().getName();
  }

  private synchronized void onService(Service s) {
    var spec = s.getSpec();
    // Headless Services name pods (the hosts file does that); selector-less ones have no endpoints we'd know.
    boolean proxied = spec != null && !"None".equals(spec.getClusterIP()) && spec.getSelector() != null
        && !spec.getSelector().isEmpty() && "ClusterIP".equals(Objects.requireNonNullElse(spec.getType(), "ClusterIP"));
    Proxied old = services.get(key(s));
    List<ServicePort> ports = proxied ? spec.getPorts().stream()
        .filter(p -> p.getProtocol() == null || "TCP".equals(p.getProtocol())).toList() : List.of();
    if (old != null && old.ports.equals(ports) && old.selector.equals(spec.getSelector())) {
      return;
    }
    if (old != null) {
      services.remove(key(s));
      old.close();
    }
    if (!ports.isEmpty()) {
      services.put(key(s), new Proxied(s.getMetadata().getNamespace(), s.getMetadata().getName(), ports,
          spec.getSelector()));
    }
  }

  private static boolean ready(Pod pod) {
    return pod.getStatus().getConditions() != null && pod.getStatus().getConditions().stream()
        .anyMatch(c -> "Ready".equals(c.getType()) && "True".equals(c.getStatus()));
  }

  /** The Service port's target on this pod: a number, a container port's name, or by default the port itself. */
  private static Optional<Integer> targetPort(ServicePort port, Pod pod) {
    IntOrString target = port.getTargetPort();
    if (target == null || (target.getIntVal() == null && target.getStrVal() == null)) {
      return Optional.of(port.getPort());
    }
    if (target.getIntVal() != null) {
      return Optional.of(target.getIntVal());
    }
    return pod.getSpec().getContainers().stream().filter(c -> c.getPorts() != null)
        .flatMap(c -> c.getPorts().stream()).filter(p -> target.getStrVal().equals(p.getName()))
        .map(ContainerPort::getContainerPort).findFirst();
  }

  @Override
  public synchronized void close() {
    if (serviceInformer != null) {
      serviceInformer.stop();
    }
    services.values().forEach(Proxied::close);
    services.clear();
  }

  /** One Service: its address, a listener per port, the round-robin position. */
  private final class Proxied {
    final String namespace;
    final String name;
    final String dnsName;
    final String ip;
    final List<ServicePort> ports;
    final Map<String, String> selector;
    final List<ServerSocket> listeners = new ArrayList<>();
    final AtomicInteger next = new AtomicInteger();

    Proxied(String namespace, String name, List<ServicePort> ports, Map<String, String> selector) {
      this.namespace = namespace;
      this.name = name;
      this.selector = Map.copyOf(selector);
      this.dnsName = name + "." + namespace + ".svc";
      this.ports = ports;
      this.ip = ips.allocate(a -> false);
      for (ServicePort port : ports) {
        try {
          ServerSocket listener = new ServerSocket();
          listener.bind(new InetSocketAddress(InetAddress.getByName(ip), port.getPort()), 128);
          listeners.add(listener);
          Thread.ofVirtual().name("service " + dnsName + ":" + port.getPort()).start(() -> accept(listener, port));
        } catch (IOException e) {
          LOG.log(Level.WARNING, "service {0}: cannot listen on {1}:{2}: {3}", dnsName, ip, port.getPort(),
              e.getMessage());
        }
      }
      hosts.putName("service " + namespace + "/" + name, ip, dnsName);
      LOG.log(Level.INFO, "service {0} proxied on {1}", dnsName, ip);
    }

    private void accept(ServerSocket listener, ServicePort port) {
      while (!listener.isClosed()) {
        try {
          Socket in = listener.accept();
          Thread.ofVirtual().start(() -> forward(in, port));
        } catch (IOException e) {
          // closed: the Service is gone or the node stops
        }
      }
    }

    /** Splices the connection to the next ready endpoint; without one, closes it (as a refused connection). */
    private void forward(Socket in, ServicePort port) {
      List<InetSocketAddress> backends = backends(port);
      try (in) {
        if (backends.isEmpty()) {
          return;
        }
        InetSocketAddress to = backends.get(Math.floorMod(next.getAndIncrement(), backends.size()));
        try (Socket out = new Socket()) {
          out.connect(to, CONNECT_TIMEOUT_MS);
          Thread back = Thread.ofVirtual().start(() -> pump(out, in));
          pump(in, out);
          back.join();
        }
      } catch (IOException e) {
        // the client or the endpoint went away: so does the other side
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }

    /**
     * The ready pods the Service selects, at the port its target port names. From the pods, not
     * EndpointSlices: the API server refuses loopback addresses in those, and every pod IP here is one.
     */
    private List<InetSocketAddress> backends(ServicePort port) {
      List<InetSocketAddress> out = new ArrayList<>();
      for (Pod pod : pods.get()) {
        Map<String, String> labels = pod.getMetadata().getLabels();
        if (!namespace.equals(pod.getMetadata().getNamespace()) || labels == null
            || !labels.entrySet().containsAll(selector.entrySet()) || pod.getMetadata().getDeletionTimestamp() != null
            || pod.getStatus() == null || pod.getStatus().getPodIP() == null || !ready(pod)) {
          continue;
        }
        targetPort(port, pod).ifPresent(p -> out.add(new InetSocketAddress(pod.getStatus().getPodIP(), p)));
      }
      out.sort(Comparator.comparing(InetSocketAddress::toString));
      return out;
    }

    /** Copies one direction; the sockets are closed by {@link #forward}, once both directions ended. */
    private static void pump(Socket from, Socket to) {
      try {
        InputStream in = from.getInputStream();
        OutputStream out = to.getOutputStream();
        in.transferTo(out);
        to.shutdownOutput();
      } catch (IOException e) {
        // One side failed (an endpoint killed mid-connection resets it): end both, or the other direction
        // would wait on a client that waits for an answer.
        closeQuietly(from);
        closeQuietly(to);
      }
    }

    private static void closeQuietly(Closeable c) {
      try {
        c.close();
      } catch (IOException e) {
        // closing anyway
      }
    }

    void close() {
      listeners.forEach(Proxied::closeQuietly);
      hosts.remove("service " + namespace + "/" + name);
      ips.release(ip);
    }
  }
}

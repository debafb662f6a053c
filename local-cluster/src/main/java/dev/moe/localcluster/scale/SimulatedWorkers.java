package dev.moe.localcluster.scale;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import com.sun.net.httpserver.HttpServer;
import com.sun.net.httpserver.HttpsServer;
import dev.moe.localcluster.system.ModelClient;
import dev.moe.localcluster.system.WorkerControl;
import dev.moe.runtime.tls.ModelTls;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.Watch;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The HTTP side of workers that kwok simulates: kwok's pods have no process, so this answers on
 * each pod's (loopback) IP what a worker would: {@code /readyz} on the plain port and, on the
 * control port over HTTPS with the model's certificate, {@code /stats} (the group's
 * recorded routing, split evenly over the workers, behind the model's bearer token), {@code POST
 * /placement} (a version newer than the served one is served at once: there are no weights to
 * move), {@code GET /placement} (the served version, as the worker runtime reports its versions)
 * and, on the API port, {@code GET /health}.
 */
final class SimulatedWorkers implements AutoCloseable {

  private static final int HTTP_PORT = 8080;
  private static final int CONTROL_PORT = WorkerControl.PORT;
  private static final int API_PORT = 8000;

  private final RecordedTraffic traffic;
  private final String token;
  private final ModelTls tls;
  private final int workers;
  private final ExecutorService executor = Executors.newFixedThreadPool(8);
  private final List<HttpServer> servers = new CopyOnWriteArrayList<>();
  private final Map<Long, Integer> postsByVersion = new ConcurrentHashMap<>();
  /** The version each worker (by IP) serves; a worker starts on version 0, the runtime's default placement. */
  private final Map<String, Long> active = new ConcurrentHashMap<>();
  /** When counting requests from, and the first request after it. */
  private volatile Instant markedAt = Instant.MAX;
  private final AtomicReference<Instant> firstAfterMark = new AtomicReference<>();

  SimulatedWorkers(RecordedTraffic traffic, WorkerControl control, int workers) {
    this.traffic = traffic;
    this.token = control.token();
    this.tls = control.tls();
    this.workers = workers;
  }

  /** The model's control API credentials (token and certificate), once the operator has made its Secrets. */
  static WorkerControl awaitControl(KubernetesClient client, String namespace, String model, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < deadline) {
      Optional<WorkerControl> control = WorkerControl.read(client, namespace, model);
      if (control.isPresent()) {
        return control.get();
      }
      ModelClient.sleep(Duration.ofMillis(500));
    }
    throw new IllegalStateException("the operator made no statistics token and TLS Secrets for " + model + " within "
        + timeout.toSeconds() + " s: is it running?");
  }

  /** Answers on the IP of every pod in {@code namespace}, as kwok gives them IPs; close the watch to stop. */
  Watch serveEvery(KubernetesClient client, String namespace) {
    Set<String> served = ConcurrentHashMap.newKeySet();
    return client.pods().inNamespace(namespace).watch(new Watcher<Pod>() {
      @Override
      public void eventReceived(Action action, Pod pod) {
        String ip = pod.getStatus() == null ? null : pod.getStatus().getPodIP();
        if (ip != null && served.add(ip)) {
          serve(ip);
        }
      }

      @Override
      public void onClose(WatcherException cause) {}
    });
  }

  /** Starts answering on {@code ip}. */
  void serve(String ip) {
    listen(ip, HTTP_PORT, exchange -> probe(exchange), false);
    listen(ip, CONTROL_PORT, exchange -> handle(exchange, ip), true);
    listen(ip, API_PORT, this::api, false);
  }

  private void listen(String ip, int port, HttpHandler handler, boolean https) {
    try {
      HttpServer server;
      if (https) {
        HttpsServer s = HttpsServer.create(new InetSocketAddress(ip, port), 16);
        s.setHttpsConfigurator(tls.httpsConfigurator());
        server = s;
      } else {
        server = HttpServer.create(new InetSocketAddress(ip, port), 16);
      }
      server.createContext("/", handler);
      server.setExecutor(executor);
      server.start();
      servers.add(server);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot listen on " + ip + ":" + port, e);
    }
  }

  /** From {@code at} on, notes when the first request comes (from whatever operator replica is reconciling). */
  void mark(Instant at) {
    firstAfterMark.set(null);
    markedAt = at;
  }

  /** The first request after the {@link #mark}, if one came. */
  Optional<Instant> firstRequestAfterMark() {
    return Optional.ofNullable(firstAfterMark.get());
  }

  private void noteRequest() {
    Instant now = Instant.now();
    if (now.isAfter(markedAt)) {
      firstAfterMark.compareAndSet(null, now);
    }
  }

  /** How many workers were sent placement {@code version}. */
  int posts(long version) {
    return postsByVersion.getOrDefault(version, 0);
  }

  /** The plain port: probes only, as a worker's. */
  private static void probe(HttpExchange exchange) throws IOException {
    try (exchange) {
      String path = exchange.getRequestURI().getPath();
      boolean probe = path.equals("/readyz") || path.equals("/healthz");
      reply(exchange, probe ? 200 : 403, probe ? "ok\n" : "the control API is on HTTPS, port " + CONTROL_PORT + "\n");
    }
  }

  /** The control port (HTTPS, the model's certificate). */
  private void handle(HttpExchange exchange, String ip) throws IOException {
    noteRequest();
    try (exchange) {
      String path = exchange.getRequestURI().getPath();
      boolean authorized = ("Bearer " + token).equals(exchange.getRequestHeaders().getFirst("Authorization"));
      switch (path) {
        case "/readyz", "/healthz" -> reply(exchange, 200, "ok\n");
        case "/stats" -> reply(exchange, authorized ? 200 : 401, authorized ? statsJson() : "bearer token required\n");
        case "/placement" -> {
          exchange.getRequestBody().readAllBytes();
          String query = exchange.getRequestURI().getQuery();
          long served = active.getOrDefault(ip, 0L);
          if (authorized && exchange.getRequestMethod().equals("GET")) {
            reply(exchange, 200, "{\"active\": " + served + ", \"staging\": null, \"held\": [" + served
                + "], \"refused\": {}}\n");
            return;
          }
          if (!authorized || query == null || !query.startsWith("version=")) {
            reply(exchange, authorized ? 400 : 401, "POST /placement?version=N with the bearer token\n");
            return;
          }
          long version = Long.parseLong(query.substring("version=".length()));
          if (version < served) {
            reply(exchange, 400, "placement version " + version + " is not newer than version " + served + "\n");
            return;
          }
          postsByVersion.merge(version, 1, Integer::sum);
          active.put(ip, version);
          reply(exchange, 202, "staging\n");
        }
        default -> reply(exchange, 404, "no endpoint " + path + "\n");
      }
    }
  }

  private void api(HttpExchange exchange) throws IOException {
    noteRequest();
    try (exchange) {
      String path = exchange.getRequestURI().getPath();
      reply(exchange, path.equals("/health") ? 200 : 404, path.equals("/health") ? "{\"status\": \"ok\"}\n"
          : "no endpoint " + path + " (simulated workers answer /health only)\n");
    }
  }

  private String statsJson() {
    double[][] counts = traffic.cumulative(workers);
    StringBuilder json = new StringBuilder(counts.length * counts[0].length * 12).append("{\"logical_count\": [");
    for (int l = 0; l < counts.length; l++) {
      json.append(l == 0 ? "[" : ", [");
      for (int e = 0; e < counts[l].length; e++) {
        json.append(e == 0 ? "" : ", ").append(counts[l][e]);
      }
      json.append(']');
    }
    return json.append("]}\n").toString();
  }

  private static void reply(HttpExchange exchange, int code, String body) throws IOException {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    exchange.sendResponseHeaders(code, bytes.length);
    exchange.getResponseBody().write(bytes);
  }

  @Override
  public void close() {
    servers.forEach(s -> s.stop(0));
    executor.shutdownNow();
  }
}

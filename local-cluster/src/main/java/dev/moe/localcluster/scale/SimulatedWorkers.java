package dev.moe.localcluster.scale;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The HTTP side of workers that kwok simulates: kwok's pods have no process, so this answers on
 * each pod's (loopback) IP what a worker would: {@code /readyz}, {@code /stats} (the group's
 * recorded routing, split evenly over the workers, behind the model's bearer token) and {@code
 * POST /placement} (accepted and recorded; there are no weights to move).
 */
final class SimulatedWorkers implements AutoCloseable {

  private static final int HTTP_PORT = 8080;

  private final RecordedTraffic traffic;
  private final String token;
  private final int workers;
  private final ExecutorService executor = Executors.newFixedThreadPool(8);
  private final List<HttpServer> servers = new CopyOnWriteArrayList<>();
  private final Map<Long, Integer> postsByVersion = new ConcurrentHashMap<>();

  SimulatedWorkers(RecordedTraffic traffic, String token, int workers) {
    this.traffic = traffic;
    this.token = token;
    this.workers = workers;
  }

  /** Starts answering on {@code ip}; idempotent. */
  void serve(String ip) {
    try {
      HttpServer server = HttpServer.create(new InetSocketAddress(ip, HTTP_PORT), 16);
      server.createContext("/", this::handle);
      server.setExecutor(executor);
      server.start();
      servers.add(server);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot listen on " + ip + ":" + HTTP_PORT, e);
    }
  }

  /** How many workers were sent placement {@code version}. */
  int posts(long version) {
    return postsByVersion.getOrDefault(version, 0);
  }

  private void handle(HttpExchange exchange) throws IOException {
    try (exchange) {
      String path = exchange.getRequestURI().getPath();
      boolean authorized = ("Bearer " + token).equals(exchange.getRequestHeaders().getFirst("Authorization"));
      switch (path) {
        case "/readyz", "/healthz" -> reply(exchange, 200, "ok\n");
        case "/stats" -> reply(exchange, authorized ? 200 : 401, authorized ? statsJson() : "bearer token required\n");
        case "/placement" -> {
          exchange.getRequestBody().readAllBytes();
          String query = exchange.getRequestURI().getQuery();
          if (!authorized || query == null || !query.startsWith("version=")) {
            reply(exchange, authorized ? 400 : 401, "POST /placement?version=N with the bearer token\n");
            return;
          }
          postsByVersion.merge(Long.parseLong(query.substring("version=".length())), 1, Integer::sum);
          reply(exchange, 202, "staging\n");
        }
        default -> reply(exchange, 404, "no endpoint " + path + "\n");
      }
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

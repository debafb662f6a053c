package dev.moe.runtime.server;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import com.sun.net.httpserver.HttpsServer;
import dev.moe.runtime.tls.ModelTls;
import dev.moe.stats.RoutingStatsJson;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * A worker's HTTP endpoints:
 *
 * <ul>
 *   <li>{@code GET /healthz}: 200 while the process serves HTTP at all (liveness).
 *   <li>{@code GET /readyz}: 200 once weights are loaded and every peer that the served placement
 *       gives tokens to is connected, else 503 with the reason.
 *   <li>{@code GET /metrics}: Prometheus text.
 *   <li>{@code GET /stats[?reset=true]}: routing statistics as the solver reads them ({@code
 *       logical_count}, {@code transitions}); bearer token required.
 *   <li>{@code POST /placement?version=N}: stage a new placement (a placement JSON document); 202,
 *       then see {@code GET /placement} (the versions' states; {@code ?document=active}: the active
 *       version's document); bearer token required.
 * </ul>
 *
 * <p>Without a token configured, the guarded endpoints answer 403: statistics and placement
 * changes are never open. They are served over HTTPS only (the worker's control port, with the
 * model's certificate): on plain HTTP (the probes' and Prometheus' port) they answer 403 whatever
 * the request carries, so that a client that sends the token in the clear learns it must not.
 */
public final class HttpApi implements AutoCloseable {

  private static final Logger LOG = Logger.getLogger(HttpApi.class.getName());

  /** Placement documents of DeepSeek-V3 (61 x 288 slots) are about 200 KB; far below this. */
  static final int MAX_BODY_BYTES = 64 << 20;

  private final int maxBodyBytes;

  private final HttpServer server;
  private final ExecutorService executor;
  private final WorkerApi worker;
  private final BearerToken token;
  private final boolean encrypted;

  /**
   * @param token null: the guarded endpoints refuse every request
   * @param tls the worker's TLS identity: HTTPS, with the guarded endpoints; null: plain HTTP,
   *     without them
   */
  public HttpApi(InetSocketAddress bind, WorkerApi worker, BearerToken token, ModelTls tls) {
    this(bind, worker, token, tls, MAX_BODY_BYTES);
  }

  HttpApi(InetSocketAddress bind, WorkerApi worker, BearerToken token, ModelTls tls, int maxBodyBytes) {
    this.maxBodyBytes = maxBodyBytes;
    this.worker = worker;
    this.token = token;
    this.encrypted = tls != null;
    try {
      if (tls == null) {
        server = HttpServer.create(bind, 64);
      } else {
        HttpsServer https = HttpsServer.create(bind, 64);
        https.setHttpsConfigurator(tls.httpsConfigurator());
        server = https;
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot listen for HTTP on " + bind + ": " + e.getMessage(), e);
    }
    executor = Executors.newFixedThreadPool(2, r -> {
      Thread t = new Thread(r, "http-" + bind.getPort());
      t.setDaemon(true);
      return t;
    });
    server.setExecutor(executor);
    server.createContext("/", this::route);
    server.start();
  }

  public InetSocketAddress address() {
    return server.getAddress();
  }

  /** Stops accepting, lets exchanges in progress finish for up to {@code seconds}. */
  public void stop(int seconds) {
    server.stop(seconds);
    executor.shutdown();
  }

  @Override
  public void close() {
    stop(0);
  }

  private void route(HttpExchange exchange) {
    try (exchange) {
      String path = exchange.getRequestURI().getPath();
      String method = exchange.getRequestMethod();
      switch (path) {
        case "/healthz" -> get(exchange, method, () -> text(exchange, 200, "ok\n"));
        case "/readyz" -> get(exchange, method, () -> {
          String reason = worker.notReadyReason();
          text(exchange, reason == null ? 200 : 503, reason == null ? "ready\n" : "not ready: " + reason + "\n");
        });
        case "/metrics" -> get(exchange, method, () -> send(exchange, 200, worker.metricsContentType(), worker.metrics()));
        case "/stats" -> get(exchange, method, () -> {
          if (authorized(exchange)) {
            Map<String, String> query = query(exchange);
            boolean reset = "true".equals(query.get("reset"));
            // The counts alone are 58 x 256 numbers for DeepSeek-V3; the transitions are 57 x 256 x 256.
            boolean transitions = !"false".equals(query.get("transitions"));
            json(exchange, 200, RoutingStatsJson.toJson(worker.routingStats(reset, transitions)));
          }
        });
        case "/placement" -> placement(exchange, method);
        default -> text(exchange, 404, "no endpoint " + path + " (try /healthz, /readyz, /metrics, /stats, /placement)\n");
      }
    } catch (IllegalStateException e) {
      // The worker cannot answer yet (still loading) or any more (stopping).
      try {
        text(exchange, 503, "unavailable: " + e.getMessage() + "\n");
      } catch (IOException | RuntimeException ignored) {
        // The response had already started: nothing more can be said to this client.
      }
    } catch (RuntimeException | IOException e) {
      LOG.log(Level.WARNING, "HTTP " + exchange.getRequestMethod() + " " + exchange.getRequestURI() + " failed", e);
      try {
        text(exchange, 500, "internal error: " + e.getMessage() + "\n");
      } catch (IOException | RuntimeException ignored) {
        // The response had already started: nothing more can be said to this client.
      }
    }
  }

  private interface Action {
    void run() throws IOException;
  }

  private static void get(HttpExchange exchange, String method, Action action) throws IOException {
    if (!method.equals("GET") && !method.equals("HEAD")) {
      exchange.getResponseHeaders().set("Allow", "GET");
      text(exchange, 405, method + " is not allowed here; use GET\n");
      return;
    }
    action.run();
  }

  private void placement(HttpExchange exchange, String method) throws IOException {
    if (!authorized(exchange)) {
      return;
    }
    switch (method) {
      case "GET" -> json(exchange, 200, "active".equals(query(exchange).get("document"))
          ? worker.activePlacementJson() : worker.placementStatusJson());
      case "POST" -> {
        String v = query(exchange).get("version");
        long version;
        try {
          version = Long.parseLong(v == null ? "" : v);
        } catch (NumberFormatException e) {
          text(exchange, 400, "give the placement's version as ?version=N (a whole number), got " + v + "\n");
          return;
        }
        byte[] body = readBody(exchange);
        if (body == null) {
          text(exchange, 413, "the placement document is over " + maxBodyBytes + " bytes\n");
          return;
        }
        try {
          worker.stagePlacement(version, body);
        } catch (IllegalArgumentException e) {
          text(exchange, 400, e.getMessage() + "\n");
          return;
        } catch (IllegalStateException e) {
          text(exchange, 409, e.getMessage() + "\n");
          return;
        }
        json(exchange, 202, "{\"version\": " + version + ", \"state\": \"staging\"}\n");
      }
      default -> {
        exchange.getResponseHeaders().set("Allow", "GET, POST");
        text(exchange, 405, method + " is not allowed here; use GET or POST\n");
      }
    }
  }

  /** Answers 401 or 403 itself when the request may not proceed. */
  private boolean authorized(HttpExchange exchange) throws IOException {
    if (!encrypted) {
      text(exchange, 403, "refused on plain HTTP: /stats and /placement are served over HTTPS only, on the worker's"
          + " control port (serve --control); a token sent here has crossed the network in the clear\n");
      return false;
    }
    if (token == null) {
      text(exchange, 403, "disabled: start the worker with --stats-token-file to enable this endpoint\n");
      return false;
    }
    if (!token.accepts(exchange.getRequestHeaders().getFirst("Authorization"))) {
      exchange.getResponseHeaders().set("WWW-Authenticate", "Bearer");
      text(exchange, 401, "missing or wrong bearer token\n");
      return false;
    }
    return true;
  }

  /** The body, or null when it is over the limit. */
  private byte[] readBody(HttpExchange exchange) throws IOException {
    try (InputStream in = exchange.getRequestBody()) {
      byte[] body = in.readNBytes(maxBodyBytes + 1);
      return body.length > maxBodyBytes ? null : body;
    }
  }

  private static Map<String, String> query(HttpExchange exchange) {
    Map<String, String> params = new HashMap<>();
    String raw = exchange.getRequestURI().getRawQuery();
    if (raw == null) {
      return params;
    }
    for (String pair : raw.split("&")) {
      int eq = pair.indexOf('=');
      String key = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
      params.put(key, eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8));
    }
    return params;
  }

  private static void text(HttpExchange exchange, int status, String body) throws IOException {
    send(exchange, status, "text/plain; charset=utf-8", body.getBytes(StandardCharsets.UTF_8));
  }

  private static void json(HttpExchange exchange, int status, String body) throws IOException {
    send(exchange, status, "application/json", body.getBytes(StandardCharsets.UTF_8));
  }

  private static void send(HttpExchange exchange, int status, String contentType, byte[] body) throws IOException {
    exchange.getResponseHeaders().set("Content-Type", contentType);
    boolean head = exchange.getRequestMethod().equals("HEAD");
    exchange.sendResponseHeaders(status, head ? -1 : body.length == 0 ? -1 : body.length);
    if (!head && body.length > 0) {
      try (OutputStream out = exchange.getResponseBody()) {
        out.write(body);
      }
    }
  }
}

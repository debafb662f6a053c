package dev.moe.operator.workers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import dev.moe.operator.tls.ModelCertificates;
import dev.moe.operator.tls.ModelCertificates.Material;
import dev.moe.runtime.server.BearerToken;
import dev.moe.runtime.server.HttpApi;
import dev.moe.runtime.server.WorkerApi;
import dev.moe.runtime.tls.ModelTls;
import dev.moe.stats.RoutingStats;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpRequest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The operator's side of the workers' control API, against the worker runtime's own HTTPS server
 * with a certificate the operator issued: the model's CA is trusted, another model's is not, and
 * the token is never sent over plain HTTP.
 */
class WorkerHttpTest {

  private static final String TOKEN = "control-token";

  private final WorkerHttp http = new WorkerHttp();

  @TempDir Path dir;

  private static Material issue(String model) {
    return ModelCertificates.desired(Optional.empty(), model, model + "-workers", "ns", Instant.now());
  }

  /** A worker's control API with {@code m}, as the worker reads it from the mounted Secret. */
  private HttpApi worker(Material m) throws IOException {
    Files.writeString(dir.resolve("tls.crt"), m.certificate());
    Files.writeString(dir.resolve("tls.key"), m.key());
    Files.writeString(dir.resolve("ca.crt"), m.caCertificate());
    ModelTls tls = ModelTls.fromFiles(dir.resolve("tls.crt"), dir.resolve("tls.key"), dir.resolve("ca.crt"));
    return new HttpApi(new InetSocketAddress("127.0.0.1", 0), new Stub(), BearerToken.of(TOKEN), tls);
  }

  private static HttpRequest.Builder get(URI uri) {
    return HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(5));
  }

  private static WorkerCredentials of(Material m) {
    return new WorkerCredentials(m.caCertificate(), TOKEN);
  }

  @Test
  void theModelsCaIsTrustedAndAnotherModelsIsNot() throws IOException {
    Material model = issue("model-a");
    try (HttpApi worker = worker(model)) {
      URI placement = URI.create("https://127.0.0.1:" + worker.address().getPort() + "/placement");
      WorkerHttp.Reply ok = http.control(of(model), Map.of(0, "127.0.0.1"), ip -> get(placement)).get(0);
      assertEquals(200, ok.status(), ok.body());
      assertEquals("{\"active\": 1}", ok.body());

      WorkerHttp.Reply refused = http.control(of(issue("model-b")), Map.of(0, "127.0.0.1"),
          ip -> get(placement)).get(0);
      assertEquals(0, refused.status(), "a worker of another CA is not this model's: " + refused.body());
      assertTrue(refused.body().startsWith("unreachable"), refused.body());
    }
  }

  @Test
  void theTokenIsNeverSentOverPlainHttp() throws IOException {
    AtomicInteger received = new AtomicInteger();
    HttpServer plain = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 4);
    plain.createContext("/", exchange -> {
      received.incrementAndGet();
      exchange.sendResponseHeaders(200, -1);
      exchange.close();
    });
    plain.start();
    try {
      URI uri = URI.create("http://127.0.0.1:" + plain.getAddress().getPort() + "/stats");
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> http.control(of(issue("model-a")), Map.of(0, "127.0.0.1"), ip -> get(uri)));
      assertTrue(e.getMessage().contains("HTTPS only"), e.getMessage());
      assertEquals(0, received.get(), "nothing reached the plain server");
      assertTrue(WorkerHttp.controlUri("10.1.2.3", "/stats").toString().startsWith("https://10.1.2.3:8443/"));
    } finally {
      plain.stop(0);
    }
  }

  /** A worker that serves one placement version. */
  private static final class Stub implements WorkerApi {
    @Override
    public String notReadyReason() {
      return null;
    }

    @Override
    public byte[] metrics() {
      return new byte[0];
    }

    @Override
    public String metricsContentType() {
      return "text/plain";
    }

    @Override
    public RoutingStats routingStats(boolean reset, boolean transitions) {
      throw new IllegalStateException("no statistics here");
    }

    @Override
    public void stagePlacement(long version, byte[] placementJson) {
      throw new IllegalStateException("no staging here");
    }

    @Override
    public String placementStatusJson() {
      return "{\"active\": 1}";
    }

    @Override
    public String activePlacementJson() {
      return "{}";
    }
  }
}

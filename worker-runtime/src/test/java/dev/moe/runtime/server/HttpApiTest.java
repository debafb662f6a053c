package dev.moe.runtime.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moe.placement.Placement;
import dev.moe.placement.PlacementJson;
import dev.moe.runtime.Fixtures;
import dev.moe.runtime.model.Checkpoint;
import dev.moe.runtime.parallel.CheckpointModel;
import dev.moe.runtime.parallel.LocalGroup;
import dev.moe.runtime.parallel.WorkerGroup;
import dev.moe.runtime.parallel.WorkerNode;
import dev.moe.runtime.parallel.WorkerOptions;
import dev.moe.runtime.rebalance.PlacementRefusedException;
import dev.moe.runtime.rebalance.Placements;
import dev.moe.runtime.tensor.DType;
import dev.moe.runtime.tls.ModelTls;
import dev.moe.runtime.tls.TestCertificates;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletionException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A worker's HTTP endpoints over a live two-worker group (Mixtral's fixture): the control API over
 * HTTPS with a certificate of the model's CA, as the operator calls it.
 */
class HttpApiTest {

  static final String TOKEN = "t0ken-from-a-secret";

  static Checkpoint ckpt;
  static LocalGroup local;
  static List<HttpApi> apis;
  static HttpClient client;
  static ModelTls tls;

  @BeforeAll
  static void start() throws IOException {
    TestCertificates model = TestCertificates.authority("mixtral");
    tls = model.issue(Files.createTempDirectory("http-api-tls"));
    ckpt = Checkpoint.open(Fixtures.dir("mixtral"));
    local = LocalGroup.start(2, new CheckpointModel(ckpt, DType.F32), Placements.roundRobin(2, 8, 2),
        WorkerOptions.defaults());
    apis = local.nodes().stream().map(n -> new HttpApi(new InetSocketAddress("127.0.0.1", 0), new NodeApi(n, 1 << 20),
        BearerToken.of(TOKEN), tls)).toList();
    client = HttpClient.newBuilder().sslContext(model.issue(Files.createTempDirectory("http-api-client")).sslContext())
        .build();
  }

  @AfterAll
  static void stop() {
    client.close();
    apis.forEach(HttpApi::close);
    local.close();
    ckpt.close();
  }

  static HttpResponse<String> send(int worker, String method, String path, String token, String body)
      throws IOException, InterruptedException {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("https://127.0.0.1:"
        + apis.get(worker).address().getPort() + path));
    if (token != null) {
      b.header("Authorization", "Bearer " + token);
    }
    b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
    return client.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void probesAndMetrics() throws Exception {
    assertEquals(200, send(0, "GET", "/healthz", null, null).statusCode());
    HttpResponse<String> ready = send(0, "GET", "/readyz", null, null);
    assertEquals(200, ready.statusCode(), ready.body());
    double steps = metric(send(0, "GET", "/metrics", null, null).body(), "moe_worker_steps_total");
    double routed = metric(send(0, "GET", "/metrics", null, null).body(),
        "moe_worker_routed_assignments_total{layer=\"1\"}");
    // 4 tokens over 2 workers: worker 0 routes 2 tokens x top-2 per layer.
    local.group().step(new float[4 * 64], 4, new int[] {0, 1}).join();
    HttpResponse<String> metrics = send(0, "GET", "/metrics", null, null);
    assertEquals(200, metrics.statusCode());
    String m = metrics.body();
    assertEquals(steps + 1, metric(m, "moe_worker_steps_total"), m);
    assertEquals(routed + 4, metric(m, "moe_worker_routed_assignments_total{layer=\"1\"}"), m);
    assertTrue(m.contains("moe_worker_window_rows{gpu=\"1\"}"), m);
    assertTrue(m.contains("moe_worker_step_seconds_bucket"), m);
    assertFalse(m.contains("expert="), "no per-expert series");
    assertEquals(404, send(0, "GET", "/nope", null, null).statusCode());
    assertEquals(405, send(0, "POST", "/healthz", null, "x").statusCode());
  }

  @Test
  void guardedEndpointsNeedTheToken() throws Exception {
    assertEquals(401, send(0, "GET", "/stats", null, null).statusCode());
    assertEquals(401, send(0, "GET", "/stats", "wrong", null).statusCode());
    assertEquals(401, send(0, "GET", "/placement", null, null).statusCode());
    assertEquals(401, send(0, "POST", "/placement?version=5", null, "{}").statusCode());
    assertEquals(200, send(0, "GET", "/stats", TOKEN, null).statusCode());
    try (HttpApi open = new HttpApi(new InetSocketAddress("127.0.0.1", 0), new NodeApi(local.nodes().get(0), 1),
        null, tls)) {
      HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create("https://127.0.0.1:"
          + open.address().getPort() + "/stats")).header("Authorization", "Bearer anything").build(),
          HttpResponse.BodyHandlers.ofString());
      assertEquals(403, r.statusCode());
      assertTrue(r.body().contains("--stats-token-file"), r.body());
    }
  }

  @Test
  void plainHttpRefusesTheTokenBearingEndpointsEvenWithTheRightToken() throws Exception {
    try (HttpApi plain = new HttpApi(new InetSocketAddress("127.0.0.1", 0), new NodeApi(local.nodes().get(0), 1),
        BearerToken.of(TOKEN), null)) {
      for (String path : List.of("/stats", "/placement")) {
        HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
            + plain.address().getPort() + path)).header("Authorization", "Bearer " + TOKEN).build(),
            HttpResponse.BodyHandlers.ofString());
        assertEquals(403, r.statusCode(), path);
        assertTrue(r.body().contains("HTTPS only"), r.body());
      }
      HttpResponse<String> post = client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
          + plain.address().getPort() + "/placement?version=5")).header("Authorization", "Bearer " + TOKEN)
          .POST(HttpRequest.BodyPublishers.ofString("{}")).build(), HttpResponse.BodyHandlers.ofString());
      assertEquals(403, post.statusCode());
      // The probes and the metrics stay on plain HTTP, for the kubelet and Prometheus.
      assertEquals(200, client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
          + plain.address().getPort() + "/readyz")).build(), HttpResponse.BodyHandlers.ofString()).statusCode());
    }
  }

  @Test
  void oversizeBodyIsRefused() throws Exception {
    try (HttpApi small = new HttpApi(new InetSocketAddress("127.0.0.1", 0), new NodeApi(local.nodes().get(0), 1),
        BearerToken.of(TOKEN), tls, 1000)) {
      HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create("https://127.0.0.1:"
              + small.address().getPort() + "/placement?version=3")).header("Authorization", "Bearer " + TOKEN)
          .POST(HttpRequest.BodyPublishers.ofString("x".repeat(1001))).build(), HttpResponse.BodyHandlers.ofString());
      assertEquals(413, r.statusCode());
      assertTrue(r.body().contains("over 1000 bytes"), r.body());
    }
  }

  @Test
  void tokenComesFromAFile(@TempDir Path dir) throws IOException {
    Path file = dir.resolve("token");
    Files.writeString(file, "abc\n");
    BearerToken t = BearerToken.fromFile(file);
    assertTrue(t.accepts("Bearer abc"));
    assertTrue(t.accepts("bearer abc"));
    assertFalse(t.accepts("Bearer abcd"));
    assertFalse(t.accepts("abc"));
    assertFalse(t.accepts(null));
    Files.writeString(file, " \n");
    assertTrue(assertThrows(IllegalArgumentException.class, () -> BearerToken.fromFile(file)).getMessage()
        .contains("is empty"));
  }

  @Test
  void placementPostedToEveryWorkerIsAdoptedByTheCoordinator() throws Exception {
    HttpResponse<String> noVersion = send(0, "POST", "/placement", TOKEN, "{}");
    assertEquals(400, noVersion.statusCode());
    assertTrue(noVersion.body().contains("?version=N"), noVersion.body());
    HttpResponse<String> bad = send(0, "POST", "/placement?version=9", TOKEN, "{\"physical_to_logical_map\": 3}");
    assertEquals(400, bad.statusCode());
    assertTrue(bad.body().contains("physical_to_logical_map is"), bad.body());
    HttpResponse<String> old = send(0, "POST", "/placement?version=0", TOKEN,
        PlacementJson.toJson(Placements.roundRobin(2, 8, 2)));
    assertEquals(400, old.statusCode());
    assertTrue(old.body().contains("not newer"), old.body());
    // The version it serves, posted again (an operator resuming a rollout): accepted, nothing changes.
    assertEquals(202, send(0, "POST", "/placement?version=1", TOKEN,
        PlacementJson.toJson(Placements.roundRobin(2, 8, 2))).statusCode());
    awaitHeld(0, "[1]");

    // Expert 0 moves to worker 1, expert 1 to worker 0, plus replicas: every worker fetches.
    int[] map = {1, 2, 4, 6, 0, 3, 5, 7, 0, 1};
    double[] shares = {.5, 1, 1, 1, .5, 1, 1, 1, .5, .5};
    Placement next = new Placement(5, new int[][] {map, map}, new double[][] {shares, shares}, null);
    String json = PlacementJson.toJson(next);
    WorkerGroup group = local.group();
    assertEquals(202, send(0, "POST", "/placement?version=10", TOKEN, json).statusCode());
    awaitHeld(0, "[1, 10]");
    // Not on every worker yet: the coordinator refuses to switch.
    CompletionException e = assertThrows(CompletionException.class, () -> group.adopt(10).join());
    assertInstanceOf(PlacementRefusedException.class, e.getCause());
    assertTrue(e.getCause().getMessage().contains("worker 1 has not staged placement version 10"));
    assertEquals(202, send(1, "POST", "/placement?version=10", TOKEN, json).statusCode());
    awaitHeld(1, "[1, 10]");
    assertEquals(10, group.adopt(10).join());
    assertEquals(10, group.step(new float[4 * 64], 4, new int[] {0, 1}).join().version());
    awaitHeld(0, "[10]");
  }

  /** The value of one series in a Prometheus text exposition; 0 when absent. */
  static double metric(String text, String series) {
    for (String line : text.split("\n")) {
      if (line.startsWith(series + " ")) {
        return Double.parseDouble(line.substring(series.length() + 1).strip());
      }
    }
    return 0;
  }

  private static void awaitHeld(int worker, String held) throws Exception {
    WorkerNode node = local.nodes().get(worker);
    long deadline = System.nanoTime() + 10_000_000_000L;
    while (true) {
      HttpResponse<String> status = send(worker, "GET", "/placement", TOKEN, null);
      assertEquals(200, status.statusCode());
      if (status.body().contains("\"held\": " + held)) {
        return;
      }
      if (System.nanoTime() > deadline) {
        throw new AssertionError("worker " + node.rank() + " status: " + status.body());
      }
      Thread.sleep(20);
    }
  }
}

package dev.moe.operator.stats;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import dev.moe.crds.v1alpha1.ModelShape;
import dev.moe.crds.v1alpha1.MoEModel;
import dev.moe.crds.v1alpha1.MoEModelSpec;
import dev.moe.operator.cluster.ControlPlane;
import dev.moe.operator.dependent.StatsTokenSecretDependent;
import dev.moe.operator.dependent.WorkerStatefulSetDependent;
import dev.moe.operator.dependent.WorkerTlsSecretDependent;
import dev.moe.operator.testing.Models;
import dev.moe.operator.tls.ModelCertificates;
import dev.moe.operator.tls.ModelCertificates.Material;
import dev.moe.operator.workers.WorkerHttp;
import dev.moe.runtime.tls.ModelTls;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.PodStatusBuilder;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The scraper on the real API server (the model's token Secret and worker pods) and three fake
 * workers' {@code /stats} on loopback addresses: a worker that answers 503 or not at all is left
 * out of the window, which says so, instead of failing it.
 */
class WorkerStatisticsScraperTest {

  private static final String NS = "scraper";
  private static final String TOKEN = "t0ken";
  private static final Duration WINDOW = Duration.ofSeconds(20);

  /** One fake worker: its cumulative counts (1 layer x 2 experts) and the status it answers. */
  private static final class FakeStats {
    volatile double[] counts = {0, 0};
    volatile int status = 200;
    HttpsServer server;
  }

  private KubernetesClient client;
  private final List<FakeStats> workers = new ArrayList<>();
  private final MoEModel model = model();
  private Instant now = Instant.parse("2026-12-05T00:00:00Z");
  private WorkerStatisticsScraper scraper;

  @BeforeEach
  void start() throws IOException {
    client = ControlPlane.get().adminClient();
    Models.namespace(client, NS);
    client.secrets().inNamespace(NS).resource(new SecretBuilder().withNewMetadata()
        .withName(StatsTokenSecretDependent.name(model)).endMetadata()
        .addToData(StatsTokenSecretDependent.KEY, Base64.getEncoder().encodeToString(TOKEN.getBytes(
            StandardCharsets.US_ASCII))).build()).serverSideApply();
    // The model's TLS Secret: the scraper trusts its CA, and the fake workers serve its certificate.
    Material tls = ModelCertificates.desired(Optional.empty(), model.getMetadata().getName(),
        WorkerStatefulSetDependent.name(model), NS, Instant.now());
    client.secrets().inNamespace(NS).resource(new SecretBuilder().withNewMetadata()
        .withName(WorkerTlsSecretDependent.name(model)).endMetadata()
        .addToStringData(WorkerTlsSecretDependent.CA_CERTIFICATE, tls.caCertificate()).build()).serverSideApply();
    HttpsConfigurator https = ModelTls.fromPem(tls.certificate(), tls.key(), tls.caCertificate()).httpsConfigurator();
    int port = 0;
    for (int w = 0; w < 3; w++) {
      FakeStats f = new FakeStats();
      // One port on 127.0.0.1, .2, .3: the scraper reads every worker on the same port, as in a cluster.
      f.server = HttpsServer.create(new InetSocketAddress("127.0.0." + (w + 1), port), 0);
      f.server.setHttpsConfigurator(https);
      f.server.createContext("/stats", exchange -> {
        boolean authorized = ("Bearer " + TOKEN).equals(exchange.getRequestHeaders().getFirst("Authorization"));
        int status = authorized ? f.status : 401;
        byte[] body = (status == 200 ? "{\"logical_count\": [[" + f.counts[0] + ", " + f.counts[1] + "]]}"
            : "unavailable").getBytes(StandardCharsets.UTF_8);
        exchange.sendResponseHeaders(status, body.length);
        exchange.getResponseBody().write(body);
        exchange.close();
      });
      f.server.start();
      port = f.server.getAddress().getPort();
      workers.add(f);
      pod(w, "127.0.0." + (w + 1));
    }
    Clock clock = new Clock() {
      @Override
      public Instant instant() {
        return now;
      }

      @Override
      public java.time.ZoneId getZone() {
        return ZoneOffset.UTC;
      }

      @Override
      public Clock withZone(java.time.ZoneId zone) {
        return this;
      }
    };
    scraper = new WorkerStatisticsScraper(client, new WorkerHttp(), clock, port, null);
  }

  @AfterEach
  void stop() {
    workers.forEach(w -> w.server.stop(0));
    client.close();
  }

  @Test
  void aWorkerThatAnswers503OrNotAtAllIsLeftOutAndTheWindowSaysSo() {
    assertTrue(scraper.window(model, WINDOW).isEmpty(), "one snapshot covers no window");
    counts(new double[] {30, 0}, new double[] {0, 30}, new double[] {20, 0});
    StatisticsWindow full = after(20);
    assertArrayEquals(new double[][] {{50, 30}}, full.stats().logicalCount());
    assertEquals(Coverage.complete(3), full.coverage());

    workers.get(2).status = 503;
    counts(new double[] {60, 0}, new double[] {0, 60}, new double[] {99, 99});
    StatisticsWindow partial = after(40);
    assertArrayEquals(new double[][] {{30, 30}}, partial.stats().logicalCount());
    // Worker 2 counted 20 tokens last window: 60 of an estimated 80.
    assertEquals("2 of 3 workers, 75% of the window's estimated tokens", partial.coverage().describe());
    assertEquals(List.of("w-workers-2 /stats answered 503: unavailable"), partial.coverage().missing());

    workers.get(1).server.stop(0);
    counts(new double[] {90, 0}, new double[] {0, 90}, new double[] {99, 99});
    StatisticsWindow one = after(60);
    assertArrayEquals(new double[][] {{30, 0}}, one.stats().logicalCount());
    assertEquals(1, one.coverage().workersCounted());
    assertTrue(one.coverage().missing().stream().anyMatch(m -> m.startsWith("w-workers-1 /stats unreachable")),
        one.coverage().missing().toString());

    workers.getFirst().status = 500;
    now = now.plusSeconds(20);
    var e = assertThrows(StatisticsUnavailableException.class, () -> scraper.window(model, WINDOW));
    assertTrue(e.getMessage().startsWith("no worker answered /stats: w-workers-0 /stats answered 500"), e.getMessage());
  }

  @Test
  void samplesBetweenWindowsSplitThemWhereTheRoutingShifted() {
    assertTrue(scraper.window(model, WINDOW).isEmpty());
    // Every worker's traffic moves from expert 0 to expert 1 at 10 s.
    for (int t = 5; t <= 15; t += 5) {
      double[] c = {100 * Math.min(t, 10) / 5, 100 * Math.max(t - 10, 0) / 5};
      counts(c, c, c);
      now = Instant.parse("2026-12-05T00:00:00Z").plusSeconds(t);
      scraper.sample(model, WINDOW);
    }
    // Not due a second after the last: nothing read, no interval.
    counts(new double[] {999, 0}, new double[] {999, 0}, new double[] {999, 0});
    now = now.plusSeconds(1);
    scraper.sample(model, WINDOW);
    counts(new double[] {200, 200}, new double[] {200, 200}, new double[] {200, 200});
    StatisticsWindow w = after(20);
    assertArrayEquals(new double[][] {{600, 600}}, w.stats().logicalCount());
    assertEquals(4, w.intervals().size());
    WindowFit fit = WindowFit.of(w);
    assertTrue(fit.settled());
    assertArrayEquals(new double[][] {{0, 600}}, fit.window().stats().logicalCount());
    assertTrue(fit.shift().startsWith("the last 10 s (since 00:00:10 UTC), after a routing shift in the"
        + " window (G "), fit.shift());
  }

  @Test
  void aDeletedModelsHistoryIsDropped() {
    scraper.window(model, WINDOW);
    now = now.plusSeconds(20);
    assertTrue(scraper.window(model, WINDOW).isPresent());
    scraper.retain(Set.of("some-other-model"));
    now = now.plusSeconds(20);
    assertTrue(scraper.window(model, WINDOW).isEmpty(), "the history starts afresh");
  }

  private StatisticsWindow after(int seconds) {
    now = Instant.parse("2026-12-05T00:00:00Z").plusSeconds(seconds);
    return scraper.window(model, WINDOW).orElseThrow();
  }

  private void counts(double[]... perWorker) {
    for (int w = 0; w < perWorker.length; w++) {
      workers.get(w).counts = perWorker[w];
    }
  }

  private void pod(int ordinal, String ip) {
    var pod = new PodBuilder().withNewMetadata().withName(WorkerStatefulSetDependent.name(model) + "-" + ordinal)
        .withNamespace(NS).withLabels(WorkerStatefulSetDependent.selector(model)).endMetadata()
        .withNewSpec().addNewContainer().withName("worker").withImage("worker").endContainer().endSpec().build();
    var created = client.pods().inNamespace(NS).resource(pod).createOr(p -> p.update());
    created.setStatus(new PodStatusBuilder().withPhase("Running").withPodIP(ip).build());
    client.pods().inNamespace(NS).resource(created).updateStatus();
  }

  private static MoEModel model() {
    MoEModel m = new MoEModel();
    m.setMetadata(new ObjectMetaBuilder().withName("w").withNamespace(NS).withUid(UUID.randomUUID().toString())
        .build());
    ModelShape shape = new ModelShape();
    shape.setMoeLayers(1);
    shape.setExpertsPerLayer(2);
    MoEModelSpec spec = new MoEModelSpec();
    spec.setModel(shape);
    m.setSpec(spec);
    return m;
  }
}

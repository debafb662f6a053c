package dev.moe.runtime.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.moe.placement.Placement;
import dev.moe.placement.PlacementJson;
import dev.moe.runtime.rebalance.Placements;
import dev.moe.runtime.tls.ModelTls;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Switches a serving group's placement over and over, as the operator does when it rebalances:
 * each round posts a new version to every worker's control API ({@code POST /placement}) and
 * waits until every worker serves it. The versions alternate between the group's placement at
 * the start and the same one with a share of every GPU's slots exchanged with the next GPU's, as a
 * budgeted rebalance moves a share of the replicas.
 */
final class PlacementSwitcher implements AutoCloseable {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Duration ADOPTION_TIMEOUT = Duration.ofSeconds(120);

  private final List<URI> workers;
  private final String token;
  private final Duration pause;
  private final HttpClient client;
  private final String[] documents;
  private final Thread thread;
  private volatile boolean stopping;
  private volatile String failure;
  private int switches;

  /**
   * Reads the group's active placement from the first worker; starts switching at once.
   *
   * @param workers every worker's control base URL ({@code --control} of serve, https), by rank
   * @param tls the model's TLS identity: the control API is HTTPS, trusted by the model's CA
   * @param pause how long to serve each version before the next switch
   * @param fraction the share of each GPU's slots that moves in a switch (at least one slot)
   */
  PlacementSwitcher(List<URI> workers, String token, ModelTls tls, Duration pause, double fraction) {
    this.workers = List.copyOf(workers);
    this.client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).sslContext(tls.sslContext()).build();
    this.token = token;
    this.pause = pause;
    Placement current = PlacementJson.parse(get(workers.getFirst(), "/placement?document=active")
        .getBytes(StandardCharsets.UTF_8), "the active placement of " + workers.getFirst(), 0, 0);
    int slots = Math.max(1, Math.min(current.slotsPerGpu(), (int) Math.round(fraction * current.slotsPerGpu())));
    Placement moved = Placements.swapped(current, workers.size(), slots);
    this.documents = new String[] {PlacementJson.toJson(moved), PlacementJson.toJson(current)};
    this.thread = Thread.ofPlatform().daemon().name("placement-switcher").start(this::run);
  }

  private void run() {
    try {
      for (int round = 0; !stopping; round++) {
        long version = 0;
        for (URI w : workers) {
          version = Math.max(version, JSON.readTree(get(w, "/placement")).path("active").asLong());
        }
        version++;
        for (URI w : workers) {
          post(w, "/placement?version=" + version, documents[round % 2]);
        }
        long deadline = System.nanoTime() + ADOPTION_TIMEOUT.toNanos();
        for (URI w : workers) {
          while (JSON.readTree(get(w, "/placement")).path("active").asLong() != version) {
            if (System.nanoTime() > deadline) {
              throw new IllegalStateException("worker " + w + " did not serve placement version " + version
                  + " within " + ADOPTION_TIMEOUT.toSeconds() + " s: " + get(w, "/placement").strip());
            }
            Thread.sleep(5);
          }
        }
        synchronized (this) {
          switches++;
        }
        Thread.sleep(pause);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (IOException | RuntimeException e) {
      failure = e.getMessage();
    }
  }

  private String get(URI worker, String path) {
    return send(HttpRequest.newBuilder(worker.resolve(path)).GET(), 200);
  }

  private void post(URI worker, String path, String body) {
    send(HttpRequest.newBuilder(worker.resolve(path)).POST(HttpRequest.BodyPublishers.ofString(body)), 202);
  }

  private String send(HttpRequest.Builder request, int expected) {
    try {
      HttpResponse<String> r = client.send(request.header("Authorization", "Bearer " + token)
          .timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofString());
      if (r.statusCode() != expected) {
        throw new IllegalStateException(r.request().method() + " " + r.request().uri() + " answered " + r.statusCode()
            + ": " + r.body().strip());
      }
      return r.body();
    } catch (IOException e) {
      throw new IllegalStateException("cannot reach the worker's control API: " + e, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
  }

  /** Switches completed so far. */
  synchronized int switches() {
    return switches;
  }

  /** Why switching stopped early, or null. */
  String failure() {
    return failure;
  }

  /** Stops after the switch under way. */
  @Override
  public void close() {
    stopping = true;
    try {
      thread.join(ADOPTION_TIMEOUT.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}

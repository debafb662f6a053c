package dev.moe.localcluster.autoscale;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Iterator;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Streamed completions held open on workers' OpenAI APIs, and how each ended as its client saw it:
 * all its tokens then [DONE], an error event then [DONE], refused before it started, or the
 * connection cut with no [DONE]. {@link #close} drops the connections still open.
 */
final class HeldStreams implements AutoCloseable {

  private static final JsonMapper JSON = JsonMapper.builder().build();

  enum End { COMPLETED, ERROR_EVENT, REFUSED, CUT }

  /** One stream: the worker it went to, its text chunks so far, and how it ended once it has. */
  static final class Stream {
    final String worker;
    final AtomicInteger chunks = new AtomicInteger();
    /** The longest wait between two chunks, in nanoseconds: how long the stream stalled. */
    volatile long longestGap;
    private long lastChunk;
    final CompletableFuture<End> end = new CompletableFuture<>();
    /** The error event's code, the refusal's status or the exception that cut it; empty when completed. */
    volatile String detail = "";

    Stream(String worker) {
      this.worker = worker;
    }

    private void chunk() {
      long now = System.nanoTime();
      if (chunks.getAndIncrement() > 0) {
        longestGap = Math.max(longestGap, now - lastChunk);
      }
      lastChunk = now;
    }

    @Override
    public String toString() {
      return String.format(Locale.ROOT, "%s: %s after %d chunks, stalled %.1f s at most%s", worker,
          end.isDone() ? end.join() : "open", chunks.get(), longestGap / 1e9, detail.isEmpty() ? "" : " (" + detail + ")");
    }
  }

  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  private final ExecutorService readers = Executors.newVirtualThreadPerTaskExecutor();

  /** A greedy completion of {@code maxTokens} tokens past end-of-sequence, streamed from {@code worker}'s API at {@code url}. */
  Stream send(String worker, String url, String model, int maxTokens) {
    String body = "{\"model\": \"" + model + "\", \"prompt\": [1, 2, 3, 4], \"max_tokens\": " + maxTokens
        + ", \"ignore_eos\": true, \"temperature\": 0, \"stream\": true}";
    HttpRequest request = HttpRequest.newBuilder(URI.create(url + "/v1/completions"))
        .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build();
    Stream s = new Stream(worker);
    readers.execute(() -> read(s, request));
    return s;
  }

  private void read(Stream s, HttpRequest request) {
    try {
      HttpResponse<java.util.stream.Stream<String>> r = http.send(request, HttpResponse.BodyHandlers.ofLines());
      if (r.statusCode() != 200) {
        s.detail = "HTTP " + r.statusCode() + " Retry-After " + r.headers().firstValue("retry-after").orElse("none");
        s.end.complete(End.REFUSED);
        return;
      }
      boolean done = false;
      String error = null;
      for (Iterator<String> lines = r.body().iterator(); lines.hasNext(); ) {
        String line = lines.next();
        if (line.equals("data: [DONE]")) {
          done = true;
        } else if (line.startsWith("data: ")) {
          JsonNode event = JSON.readTree(line.substring("data: ".length()));
          if (event.has("error")) {
            error = event.path("error").path("type").asText() + "/" + event.path("error").path("code").asText();
          } else if (!event.path("choices").path(0).path("text").asText().isEmpty()) {
            s.chunk();
          }
        }
      }
      s.detail = error == null ? "" : error;
      s.end.complete(!done ? End.CUT : error != null ? End.ERROR_EVENT : End.COMPLETED);
    } catch (IOException | UncheckedIOException e) {
      s.detail = e.toString();
      s.end.complete(End.CUT);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      s.detail = "interrupted";
      s.end.complete(End.CUT);
    }
  }

  @Override
  public void close() {
    http.shutdownNow();
    readers.shutdownNow();
  }
}

package dev.moe.localcluster.autoscale;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * Long completions held open on workers' OpenAI APIs: each asks for {@code maxTokens} tokens with
 * {@code ignore_eos}, so that it holds its KV-cache blocks until it is cut off. {@link #close}
 * drops every connection, which cancels the requests on the workers.
 */
final class ApiLoad implements AutoCloseable {

  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  private final List<CompletableFuture<HttpResponse<String>>> requests = new ArrayList<>();

  /** Sends {@code count} completions of {@code maxTokens} tokens for {@code model} to the API at {@code url}. */
  void send(String url, String model, int count, int maxTokens) {
    String body = "{\"model\": \"" + model + "\", \"prompt\": [1, 2, 3, 4], \"max_tokens\": " + maxTokens
        + ", \"ignore_eos\": true, \"temperature\": 0}";
    for (int i = 0; i < count; i++) {
      requests.add(http.sendAsync(HttpRequest.newBuilder(URI.create(url + "/v1/completions"))
          .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
          HttpResponse.BodyHandlers.ofString()));
    }
  }

  /** The first request that ended before {@link #close}, with its status and body: the load did not hold. */
  String ended() {
    return requests.stream().filter(CompletableFuture::isDone).findFirst()
        .map(f -> f.handle((r, e) -> e != null ? e.toString() : r.statusCode() + " " + r.body()).join()).orElse(null);
  }

  @Override
  public void close() {
    http.shutdownNow();
  }
}

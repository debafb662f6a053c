package dev.moe.runtime.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * One streamed {@code /v1/completions} request, timed as serving benchmarks time it: the first
 * token (TTFT, from sending) and the tokens after it (TPOT: (last - first) / (tokens - 1)). The
 * client of {@code bench-serving} and of the local cluster's demo traffic.
 *
 * @param ignoreEos true: exactly {@code maxTokens} tokens (benchmarks); false: the model may stop
 */
public record StreamedCompletion(HttpClient client, String model, String apiKey, int maxTokens, boolean ignoreEos) {

  private static final ObjectMapper JSON = new ObjectMapper();

  /** One request's measurements (times in milliseconds) and its text; {@code error} null when it succeeded. */
  public record Result(double ttftMillis, double tpotMillis, int outputTokens, int promptTokens, String text,
      String error) {

    static Result failed(String error) {
      return new Result(Double.NaN, Double.NaN, 0, 0, "", error);
    }

    public boolean ok() {
      return error == null;
    }
  }

  /** An HTTP/1.1 client, as servers' streaming is measured per connection. */
  public static HttpClient httpClient() {
    return HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(10)).build();
  }

  /**
   * Sends {@code prompt} to {@code server}; sent again once when a pooled connection turns out to
   * have been closed by the server before any byte came back.
   */
  public Result send(URI server, String prompt) {
    Result r = attempt(server, prompt);
    return r.error() != null && r.error().contains("received no bytes") ? attempt(server, prompt) : r;
  }

  private Result attempt(URI server, String prompt) {
    ObjectNode body = JSON.createObjectNode();
    body.put("model", model);
    body.put("prompt", prompt);
    body.put("max_tokens", maxTokens);
    body.put("ignore_eos", ignoreEos);
    body.put("temperature", 0);
    body.put("stream", true);
    body.putObject("stream_options").put("include_usage", true);
    HttpRequest request = authorized(HttpRequest.newBuilder(server.resolve("/v1/completions")), apiKey)
        .header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(body.toString())).build();
    long sent = System.nanoTime();
    try {
      HttpResponse<java.io.InputStream> response = client.send(request, HttpResponse.BodyHandlers.ofInputStream());
      try (BufferedReader in = new BufferedReader(new InputStreamReader(response.body(), StandardCharsets.UTF_8))) {
        if (response.statusCode() != 200) {
          return Result.failed("HTTP " + response.statusCode() + ": " + oneLine(in));
        }
        long first = -1;
        long last = -1;
        int chunks = 0;
        int usageTokens = -1;
        int promptTokens = 0;
        StringBuilder text = new StringBuilder();
        for (String line; (line = in.readLine()) != null; ) {
          if (!line.startsWith("data: ") || line.equals("data: [DONE]")) {
            continue;
          }
          JsonNode event = JSON.readTree(line.substring(6));
          if (event.has("error")) {
            return Result.failed(event.get("error").path("message").asText());
          }
          JsonNode usage = event.get("usage");
          if (usage != null && !usage.isNull()) {
            usageTokens = usage.path("completion_tokens").asInt();
            promptTokens = usage.path("prompt_tokens").asInt();
          }
          JsonNode choices = event.path("choices");
          String piece = choices.size() > 0 ? choices.get(0).path("text").asText() : "";
          if (!piece.isEmpty()) {
            long now = System.nanoTime();
            first = first < 0 ? now : first;
            last = now;
            chunks++;
            text.append(piece);
          }
        }
        int tokens = usageTokens >= 0 ? usageTokens : chunks;
        if (first < 0) {
          return Result.failed("the stream had no text");
        }
        double tpot = tokens > 1 ? (last - first) / 1e6 / (tokens - 1) : Double.NaN;
        return new Result((first - sent) / 1e6, tpot, tokens, promptTokens, text.toString(), null);
      }
    } catch (IOException e) {
      return Result.failed(e.toString());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return Result.failed("interrupted");
    }
  }

  static HttpRequest.Builder authorized(HttpRequest.Builder builder, String apiKey) {
    builder.timeout(Duration.ofMinutes(10));
    return apiKey == null ? builder : builder.header("Authorization", "Bearer " + apiKey);
  }

  static String oneLine(BufferedReader in) throws IOException {
    StringBuilder s = new StringBuilder();
    for (String line; (line = in.readLine()) != null && s.length() < 300; ) {
      s.append(line.strip()).append(' ');
    }
    return s.toString().strip();
  }
}

package dev.moe.runtime.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.moe.runtime.EngineTesting;
import dev.moe.runtime.Fixtures;
import dev.moe.runtime.ModelExpectations;
import dev.moe.runtime.api.OpenAiPythonClientTest;
import dev.moe.runtime.parallel.ChildWorkers;
import dev.moe.runtime.tokenizer.IncrementalDetokenizer;
import dev.moe.runtime.tokenizer.TextTokenizer;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.BooleanSupplier;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@code serve --api} as deployed: a group of 1 or 3 worker processes answers OpenAI requests
 * with transformers' greedy continuations, on every architecture; and the official openai Python
 * client streams a chat completion from it.
 */
class ServeApiTest {

  private static final JsonMapper JSON = JsonMapper.builder().build();
  private static final Duration READY = Duration.ofSeconds(180);
  private final HttpClient http = HttpClient.newHttpClient();

  private static ChildWorkers serve(String fixture, int workers) {
    return ChildWorkers.start(workers, List.of("--checkpoint", Fixtures.dir(fixture).toString(), "--backend", "cpu",
        "--threads", "1", "--kv-cache-tokens", "1024", "--served-model-name", fixture), READY, true);
  }

  private static String url(InetSocketAddress api, String path) {
    return "http://127.0.0.1:" + api.getPort() + path;
  }

  /** A greedy completion of {@code prompt} (token ids) on the worker at {@code api}. */
  private CompletableFuture<JsonNode> complete(InetSocketAddress api, String model, int[] prompt, int maxTokens) {
    String body = "{\"model\": \"" + model + "\", \"prompt\": ["
        + Arrays.stream(prompt).mapToObj(Integer::toString).collect(Collectors.joining(", "))
        + "], \"max_tokens\": " + maxTokens + ", \"temperature\": 0}";
    HttpRequest request = HttpRequest.newBuilder(URI.create(url(api, "/v1/completions")))
        .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build();
    return http.sendAsync(request, HttpResponse.BodyHandlers.ofString()).thenApply(r -> {
      assertEquals(200, r.statusCode(), r.body());
      try {
        return JSON.readTree(r.body());
      } catch (Exception e) {
        throw new AssertionError(r.body(), e);
      }
    });
  }

  @ParameterizedTest
  @ValueSource(strings = {"mixtral", "qwen2_moe", "qwen3_moe", "olmoe", "deepseek_v3"})
  void oneAndThreeProcessesAnswerAsTransformersGenerates(String fixture) throws Exception {
    ModelExpectations want = ModelExpectations.of(fixture);
    try (TextTokenizer tokenizer = TextTokenizer.load(Fixtures.dir(fixture))) {
      String first = text(tokenizer, want.prompt(), want.generated());
      String second = text(tokenizer, want.prompt2(), want.generated2());
      for (int workers : new int[] {1, 3}) {
        try (ChildWorkers group = serve(fixture, workers)) {
          List<InetSocketAddress> apis = group.apiAddresses();
          // Both prompts at once, on the first and the last worker.
          CompletableFuture<JsonNode> a = complete(apis.get(0), fixture, want.prompt(), want.generated().length);
          CompletableFuture<JsonNode> b = complete(apis.get(workers - 1), fixture, want.prompt2(),
              want.generated2().length);
          JsonNode ra = a.get();
          JsonNode rb = b.get();
          assertEquals(first, ra.at("/choices/0/text").asText(), fixture + " on " + workers + " process(es)");
          assertEquals(second, rb.at("/choices/0/text").asText(), fixture + " on " + workers + " process(es)");
          assertEquals("length", ra.at("/choices/0/finish_reason").asText());
          assertEquals(want.prompt().length, ra.at("/usage/prompt_tokens").asInt());
          assertEquals(want.generated().length, ra.at("/usage/completion_tokens").asInt());
        }
      }
    }
  }

  @Test
  void everyWorkerWithTheApiPublishesItsQueueAndCacheOnMetrics() throws Exception {
    ModelExpectations want = ModelExpectations.of("qwen3_moe");
    // 64 cached positions in blocks of 16: one request of the ~20-token prompt and 40 tokens fills them.
    try (ChildWorkers group = ChildWorkers.start(2, List.of("--checkpoint", Fixtures.dir("qwen3_moe").toString(),
        "--backend", "cpu", "--threads", "1", "--kv-cache-tokens", "64", "--served-model-name", "qwen3_moe"),
        READY, true)) {
      InetSocketAddress api = group.apiAddresses().get(1);
      CompletableFuture<JsonNode> first = complete(api, "qwen3_moe", want.prompt(), 40);
      CompletableFuture<JsonNode> second = complete(api, "qwen3_moe", want.prompt(), 40);
      // Served one after the other: while the first runs, the second waits for its blocks.
      List<Double> busy = List.of(1.0, 1.0, 4.0, 4.0, 1.0);
      List<Double> idle = List.of(0.0, 0.0, 0.0, 4.0, 0.0);
      InetSocketAddress control = group.httpAddresses().get(1);
      assertEquals(busy, awaitServing(control, busy, second::isDone), "worker 1, one request running and one waiting");
      assertEquals(idle, serving(group.httpAddresses().get(0)), "worker 0 has no request of its own");
      first.get();
      second.get();
      // Published after the step that finished the second, maybe just after its reply.
      assertEquals(idle, awaitServing(control, idle, () -> false));
    }
  }

  /** The worker's serving gauges once they are {@code want}, else as they were when it gave up (60 s at most). */
  private List<Double> awaitServing(InetSocketAddress control, List<Double> want, BooleanSupplier giveUp)
      throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    List<Double> seen = serving(control);
    while (!seen.equals(want) && !giveUp.getAsBoolean() && System.nanoTime() < deadline) {
      Thread.sleep(5);
      seen = serving(control);
    }
    return seen;
  }

  private List<Double> serving(InetSocketAddress control) throws Exception {
    return EngineTesting.servingGauges(http.send(HttpRequest.newBuilder(URI.create(url(control, "/metrics"))).build(),
        HttpResponse.BodyHandlers.ofString()).body());
  }

  /**
   * The text the API makes of {@code generated} after {@code prompt}: incrementally, in the
   * prompt's context (a random model's byte tokens need not form valid UTF-8 on their own).
   */
  private static String text(TextTokenizer tokenizer, int[] prompt, int[] generated) {
    IncrementalDetokenizer d = new IncrementalDetokenizer(tokenizer, prompt, true);
    StringBuilder sb = new StringBuilder();
    for (int t : generated) {
      sb.append(d.next(t));
    }
    return sb.append(d.flush()).toString();
  }

  @Test
  void theOfficialOpenAiClientStreamsAChatCompletionFromThreeProcesses() throws Exception {
    String python = OpenAiPythonClientTest.python();
    try (ChildWorkers group = serve("qwen2_moe", 3)) {
      JsonNode out = OpenAiPythonClientTest.run(python, url(group.apiAddresses().get(1), ""), "qwen2_moe", "none");
      JsonNode chat = out.get("chat_stream");
      assertEquals("assistant", chat.get("role").asText());
      assertEquals("length", chat.get("finish_reason").asText());
      assertEquals(8, chat.get("usage").get("completion_tokens").asInt());
      // The role, text deltas (bytes of one character arrive together), the finish, the usage.
      assertTrue(chat.get("chunks").asInt() >= 5, "streamed in chunks: " + chat);
      assertTrue(!chat.get("text").asText().isEmpty(), chat.toString());
      assertEquals("length", out.at("/completion_stream/finish_reason").asText());
      assertEquals(3, out.at("/chat/logprob_tokens").size());
      assertEquals("model_not_found", out.at("/not_found/code").asText());
      assertEquals("n", out.at("/bad_request/param").asText());
    }
  }
}

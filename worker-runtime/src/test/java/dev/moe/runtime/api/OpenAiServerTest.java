package dev.moe.runtime.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.moe.runtime.Fixtures;
import dev.moe.runtime.scheduler.EngineRejectedException;
import dev.moe.runtime.scheduler.FinishReason;
import dev.moe.runtime.server.BearerToken;
import dev.moe.runtime.tokenizer.TextTokenizer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The OpenAI API over real sockets on loopback, in front of a scripted engine and Qwen2-MoE's
 * fixture tokenizer: every endpoint, streaming and not, usage, logprobs, stop strings, errors,
 * cancellation on disconnect.
 */
class OpenAiServerTest {

  static final ObjectMapper JSON = new ObjectMapper();
  /** What the scripted engine generates (then end of sequence). */
  static final String SCRIPT = " Hello world! The quick brown fox jumps over the lazy dog.";

  static TextTokenizer tokenizer;
  static ScriptedEngine engine;
  static OpenAiServer server;
  static HttpClient client;
  static int[] script;
  static int eos;

  @BeforeAll
  static void start() {
    tokenizer = TextTokenizer.load(Fixtures.dir("qwen2_moe"));
    eos = tokenizer.tokenId(tokenizer.eosToken());
    int[] text = tokenizer.encode(SCRIPT, false);
    script = Arrays.copyOf(text, text.length + 1);
    script[text.length] = eos;
    engine = new ScriptedEngine(512, script, eos);
    server = OpenAiServer.start(new InetSocketAddress("127.0.0.1", 0), engine, tokenizer, ApiOptions.defaults());
    client = HttpClient.newHttpClient();
  }

  @AfterAll
  static void stop() {
    client.close();
    server.close();
    engine.close();
    tokenizer.close();
  }

  @BeforeEach
  void reset() {
    engine.maxModelLength = 256;
    engine.notReadyReason = null;
    engine.script = script;
    engine.stepMillis = 1;
    engine.reject = null;
    engine.failAfter = -1;
    engine.failWith = FinishReason.ERROR;
  }

  static URI uri(String path) {
    return URI.create("http://127.0.0.1:" + server.address().getPort() + path);
  }

  static HttpResponse<String> post(String path, String body, String... headers) {
    HttpRequest.Builder b = HttpRequest.newBuilder(uri(path)).timeout(Duration.ofSeconds(30))
        .POST(HttpRequest.BodyPublishers.ofString(body)).header("Content-Type", "application/json");
    if (headers.length > 0) {
      b.headers(headers);
    }
    return send(b.build());
  }

  static HttpResponse<String> get(String path, String... headers) {
    HttpRequest.Builder b = HttpRequest.newBuilder(uri(path)).timeout(Duration.ofSeconds(30)).GET();
    if (headers.length > 0) {
      b.headers(headers);
    }
    return send(b.build());
  }

  static HttpResponse<String> send(HttpRequest request) {
    try {
      return client.send(request, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
    } catch (IOException | InterruptedException e) {
      throw new AssertionError(e);
    }
  }

  static JsonNode json(HttpResponse<String> response) {
    try {
      return JSON.readTree(response.body());
    } catch (IOException e) {
      throw new AssertionError("not JSON: " + response.body(), e);
    }
  }

  /** The events of a stream, in order, without the final [DONE] (which must be there). */
  static List<JsonNode> events(HttpResponse<String> response) {
    assertEquals(200, response.statusCode(), response.body());
    assertTrue(response.headers().firstValue("content-type").orElse("").startsWith("text/event-stream"));
    List<JsonNode> events = new ArrayList<>();
    String[] blocks = response.body().split("\n\n");
    assertEquals("data: [DONE]", blocks[blocks.length - 1]);
    for (int i = 0; i < blocks.length - 1; i++) {
      assertTrue(blocks[i].startsWith("data: "), blocks[i]);
      try {
        events.add(JSON.readTree(blocks[i].substring(6)));
      } catch (IOException e) {
        throw new AssertionError(blocks[i], e);
      }
    }
    return events;
  }

  /** An error response: the status and OpenAI's shape; returns the error object. */
  static JsonNode error(HttpResponse<String> response, int status) {
    assertEquals(status, response.statusCode(), response.body());
    JsonNode error = json(response).get("error");
    assertNotNull(error, response.body());
    for (String field : List.of("message", "type", "param", "code")) {
      assertTrue(error.has(field), field + " in " + error);
    }
    assertFalse(error.get("message").asText().isBlank());
    return error;
  }

  static String decode(int n) {
    return tokenizer.decode(Arrays.copyOf(script, n), true);
  }

  // ---- models, health ----

  @Test
  void modelsListsTheOneModel() {
    JsonNode body = json(get("/v1/models"));
    assertEquals("list", body.get("object").asText());
    assertEquals(1, body.get("data").size());
    JsonNode model = body.get("data").get(0);
    assertEquals("scripted-moe", model.get("id").asText());
    assertEquals("model", model.get("object").asText());
    assertTrue(model.get("created").asLong() > 1_700_000_000L);
    assertEquals("scripted-moe", json(get("/v1/models/scripted-moe")).get("id").asText());
    assertEquals("model_not_found", error(get("/v1/models/other"), 404).get("code").asText());
  }

  @Test
  void healthFollowsTheEngine() {
    assertEquals(200, get("/health").statusCode());
    engine.notReadyReason = "loading weights";
    JsonNode e = error(get("/health"), 503);
    assertTrue(e.get("message").asText().contains("loading weights"));
  }

  // ---- completions ----

  @Test
  void aCompletionIsTheDecodedTokensWithUsage() {
    HttpResponse<String> r = post("/v1/completions", """
        {"model": "scripted-moe", "prompt": "Say hello:", "max_tokens": 5}""");
    assertEquals(200, r.statusCode(), r.body());
    assertTrue(r.headers().firstValue("content-type").orElse("").startsWith("application/json"));
    JsonNode body = json(r);
    assertTrue(body.get("id").asText().startsWith("cmpl-"));
    assertEquals("text_completion", body.get("object").asText());
    assertEquals("scripted-moe", body.get("model").asText());
    JsonNode choice = body.get("choices").get(0);
    assertEquals(0, choice.get("index").asInt());
    assertEquals(decode(5), choice.get("text").asText());
    assertTrue(choice.get("logprobs").isNull());
    assertEquals("length", choice.get("finish_reason").asText());
    int prompt = tokenizer.encode("Say hello:", true).length;
    assertEquals(prompt, body.get("usage").get("prompt_tokens").asInt());
    assertEquals(5, body.get("usage").get("completion_tokens").asInt());
    assertEquals(prompt + 5, body.get("usage").get("total_tokens").asInt());
    assertEquals(prompt, engine.last().promptLength());
  }

  @Test
  void endOfSequenceStopsAndIsNotText() {
    JsonNode choice = json(post("/v1/completions", """
        {"prompt": [1, 2, 3], "max_tokens": 100}""")).get("choices").get(0);
    assertEquals(SCRIPT, choice.get("text").asText());
    assertEquals("stop", choice.get("finish_reason").asText());
    assertEquals(100, engine.last().sampling().maxTokens());
    assertTrue(Arrays.equals(new int[] {1, 2, 3}, engine.last().prompt()));
  }

  @Test
  void maxTokensDefaultsToSixteenAndIgnoreEosRunsOn() {
    JsonNode body = json(post("/v1/completions", """
        {"prompt": "x", "ignore_eos": true}"""));
    assertEquals(16, body.get("usage").get("completion_tokens").asInt());
    assertEquals(16, engine.last().sampling().maxTokens());
    assertTrue(engine.last().sampling().ignoreEos());
  }

  @Test
  void samplingParametersReachTheEngine() {
    post("/v1/completions", """
        {"prompt": "x", "max_tokens": 3, "temperature": 0.5, "top_p": 0.9, "top_k": 40, "seed": 1234,
         "presence_penalty": 0.5, "frequency_penalty": -0.5, "stop_token_ids": [7, 9], "user": "u", "unknown": 1}""");
    var p = engine.last().sampling();
    assertEquals(0.5f, p.temperature());
    assertEquals(0.9f, p.topP());
    assertEquals(40, p.topK());
    assertEquals(1234L, p.seed());
    assertEquals(0.5f, p.presencePenalty());
    assertEquals(-0.5f, p.frequencyPenalty());
    assertTrue(Arrays.equals(new int[] {7, 9}, p.stopTokenIds()));
    post("/v1/completions", """
        {"prompt": "x", "max_tokens": 3, "top_k": -1}""");
    assertEquals(0, engine.last().sampling().topK());
    assertEquals(1f, engine.last().sampling().temperature());
  }

  @Test
  void aStreamedCompletionAddsUpWithUsageLast() {
    List<JsonNode> events = events(post("/v1/completions", """
        {"prompt": "x", "max_tokens": 100, "stream": true, "stream_options": {"include_usage": true}}"""));
    StringBuilder text = new StringBuilder();
    String id = events.get(0).get("id").asText();
    for (int i = 0; i < events.size() - 1; i++) {
      JsonNode e = events.get(i);
      assertEquals(id, e.get("id").asText());
      assertEquals("text_completion", e.get("object").asText());
      assertTrue(e.get("usage").isNull());
      JsonNode choice = e.get("choices").get(0);
      text.append(choice.get("text").asText());
      assertEquals(i == events.size() - 2 ? "stop" : null, choice.get("finish_reason").textValue());
    }
    assertEquals(SCRIPT, text.toString());
    JsonNode usage = events.getLast();
    assertEquals(0, usage.get("choices").size());
    assertEquals(script.length, usage.get("usage").get("completion_tokens").asInt());
  }

  @Test
  void streamsWithoutUsageHaveNoUsageFields() {
    List<JsonNode> events = events(post("/v1/completions", """
        {"prompt": "x", "max_tokens": 4, "stream": true}"""));
    for (JsonNode e : events) {
      assertFalse(e.has("usage"), e.toString());
      assertEquals(1, e.get("choices").size());
    }
    assertEquals("length", events.getLast().get("choices").get(0).get("finish_reason").asText());
  }

  @Test
  void completionLogprobsHaveOpenAisShape() {
    JsonNode lp = json(post("/v1/completions", """
        {"prompt": "x", "max_tokens": 6, "logprobs": 3}""")).get("choices").get(0).get("logprobs");
    assertEquals(6, lp.get("tokens").size());
    assertEquals(6, lp.get("token_logprobs").size());
    assertEquals(6, lp.get("top_logprobs").size());
    assertEquals(6, lp.get("text_offset").size());
    StringBuilder joined = new StringBuilder();
    for (int i = 0; i < 6; i++) {
      assertEquals(joined.codePointCount(0, joined.length()), lp.get("text_offset").get(i).asInt());
      joined.append(lp.get("tokens").get(i).asText());
      assertEquals(-0.125, lp.get("token_logprobs").get(i).asDouble());
      JsonNode top = lp.get("top_logprobs").get(i);
      assertTrue(top.isObject() && top.size() >= 2 && top.size() <= 3, top.toString());
      assertEquals(-0.125, top.get(lp.get("tokens").get(i).asText()).asDouble());
      // -inf has no JSON form: -9999.0 as vLLM.
      assertTrue(top.toString().contains("-9999.0"), top.toString());
    }
    assertEquals(decode(6), joined.toString());
    assertEquals(3, engine.last().sampling().logprobs());
  }

  @Test
  void stopStringsEndTheTextAcrossTokenBoundariesAndCancel() {
    engine.stepMillis = 5;
    // "world! The": its pieces are several tokens; the stop string starts inside one of them.
    JsonNode choice = json(post("/v1/completions", """
        {"prompt": "x", "max_tokens": 100, "stop": ["zzz", "d! T"]}""")).get("choices").get(0);
    assertEquals(" Hello worl", choice.get("text").asText());
    assertEquals("stop", choice.get("finish_reason").asText());
    String id = engine.last().id();
    awaitCancelled(id);
    // Streaming: the stream never shows text past the stop string, though the tokens held it.
    List<JsonNode> events = events(post("/v1/completions", """
        {"prompt": "x", "max_tokens": 100, "stream": true, "stop": "fox"}"""));
    StringBuilder text = new StringBuilder();
    events.forEach(e -> text.append(e.get("choices").get(0).get("text").asText()));
    assertEquals(" Hello world! The quick brown ", text.toString());
    assertEquals("stop", events.getLast().get("choices").get(0).get("finish_reason").asText());
  }

  static void awaitCancelled(String id) {
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (!engine.cancelled.contains(id)) {
      assertTrue(System.nanoTime() < deadline, "request " + id + " was not cancelled");
      try {
        Thread.sleep(5);
      } catch (InterruptedException e) {
        throw new AssertionError(e);
      }
    }
  }

  // ---- chat ----

  static final String CHAT = """
      {"model": "scripted-moe", "messages": [{"role": "system", "content": "Be brief."},
       {"role": "user", "content": [{"type": "text", "text": "Hi"}, {"type": "text", "text": "there"}]}]""";

  @Test
  void aChatCompletionRendersTheTemplateAndAnswers() {
    JsonNode body = json(post("/v1/chat/completions", CHAT + "}"));
    assertTrue(body.get("id").asText().startsWith("chatcmpl-"));
    assertEquals("chat.completion", body.get("object").asText());
    JsonNode choice = body.get("choices").get(0);
    assertEquals("assistant", choice.get("message").get("role").asText());
    assertEquals(SCRIPT, choice.get("message").get("content").asText());
    assertEquals("stop", choice.get("finish_reason").asText());
    assertTrue(choice.get("logprobs").isNull());
    String prompt = "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi\nthere<|im_end|>\n"
        + "<|im_start|>assistant\n";
    assertTrue(Arrays.equals(tokenizer.encode(prompt, false), engine.last().prompt()));
    assertEquals(engine.last().promptLength(), body.get("usage").get("prompt_tokens").asInt());
    // The default max_tokens: what fits in the context.
    assertEquals(256 - engine.last().promptLength(), engine.last().sampling().maxTokens());
  }

  @Test
  void aStreamedChatStartsWithTheRoleAndEndsWithUsage() {
    List<JsonNode> events = events(post("/v1/chat/completions", CHAT
        + ", \"stream\": true, \"stream_options\": {\"include_usage\": true}, \"max_completion_tokens\": 7}"));
    JsonNode first = events.getFirst();
    assertEquals("chat.completion.chunk", first.get("object").asText());
    assertEquals("assistant", first.get("choices").get(0).get("delta").get("role").asText());
    StringBuilder text = new StringBuilder();
    for (int i = 1; i < events.size() - 2; i++) {
      JsonNode choice = events.get(i).get("choices").get(0);
      assertFalse(choice.get("delta").has("role"));
      text.append(choice.get("delta").get("content").asText());
      assertTrue(choice.get("finish_reason").isNull());
    }
    assertEquals(decode(7), text.toString());
    JsonNode last = events.get(events.size() - 2).get("choices").get(0);
    assertEquals("length", last.get("finish_reason").asText());
    assertEquals(0, last.get("delta").size());
    assertEquals(7, events.getLast().get("usage").get("completion_tokens").asInt());
    assertEquals(0, events.getLast().get("choices").size());
  }

  @Test
  void chatLogprobsHaveOpenAisShape() {
    JsonNode choice = json(post("/v1/chat/completions", CHAT
        + ", \"max_tokens\": 4, \"logprobs\": true, \"top_logprobs\": 2}")).get("choices").get(0);
    JsonNode content = choice.get("logprobs").get("content");
    assertEquals(4, content.size());
    StringBuilder joined = new StringBuilder();
    for (JsonNode t : content) {
      joined.append(t.get("token").asText());
      assertEquals(-0.125, t.get("logprob").asDouble());
      assertEquals(t.get("token").asText(), new String(toBytes(t.get("bytes")), StandardCharsets.UTF_8));
      assertEquals(2, t.get("top_logprobs").size());
      assertEquals(t.get("token").asText(), t.get("top_logprobs").get(0).get("token").asText());
      assertEquals(-9999.0, t.get("top_logprobs").get(1).get("logprob").asDouble());
    }
    assertEquals(decode(4), joined.toString());
    JsonNode none = json(post("/v1/chat/completions", CHAT + ", \"max_tokens\": 2, \"logprobs\": true}"))
        .get("choices").get(0).get("logprobs").get("content");
    assertEquals(0, none.get(0).get("top_logprobs").size());
    // Streamed: each chunk carries its tokens' entries.
    List<JsonNode> events = events(post("/v1/chat/completions", CHAT
        + ", \"max_tokens\": 3, \"logprobs\": true, \"stream\": true}"));
    int entries = 0;
    for (JsonNode e : events) {
      JsonNode lp = e.get("choices").get(0).get("logprobs");
      entries += lp.isNull() ? 0 : lp.get("content").size();
    }
    assertEquals(3, entries);
  }

  static byte[] toBytes(JsonNode array) {
    byte[] b = new byte[array.size()];
    for (int i = 0; i < b.length; i++) {
      b[i] = (byte) array.get(i).asInt();
    }
    return b;
  }

  @Test
  void aTemplateThatRefusesTheConversationIs400WithItsMessage() throws IOException {
    try (TextTokenizer mixtral = TextTokenizer.load(Fixtures.dir("mixtral"));
        OpenAiServer other = OpenAiServer.start(new InetSocketAddress("127.0.0.1", 0), engine, mixtral,
            ApiOptions.defaults())) {
      HttpResponse<String> r = send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + other.address().getPort()
          + "/v1/chat/completions")).POST(HttpRequest.BodyPublishers.ofString("""
          {"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]}""")).build());
      JsonNode e = error(r, 400);
      assertEquals("After the optional system message, conversation roles must alternate"
          + " user/assistant/user/assistant/...", e.get("message").asText());
      assertEquals("messages", e.get("param").asText());
    }
  }

  @Test
  void aModelWithoutChatTemplateRefusesChat(@TempDir Path dir) throws IOException {
    Files.copy(Fixtures.dir("qwen2_moe").resolve("tokenizer.json"), dir.resolve("tokenizer.json"));
    try (TextTokenizer bare = TextTokenizer.load(dir);
        OpenAiServer other = OpenAiServer.start(new InetSocketAddress("127.0.0.1", 0), engine, bare,
            ApiOptions.defaults())) {
      HttpResponse<String> r = send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + other.address().getPort()
          + "/v1/chat/completions")).POST(HttpRequest.BodyPublishers.ofString(CHAT + "}")).build());
      assertTrue(error(r, 400).get("message").asText().contains("no chat template"));
    }
  }

  // ---- errors ----

  @Test
  void badRequestsAre400NamingTheParameter() {
    record Case(String path, String body, String param) {}
    List<Case> cases = List.of(
        new Case("/v1/completions", "{\"prompt\": \"x\", \"temperature\": \"hot\"}", "temperature"),
        new Case("/v1/completions", "{\"prompt\": \"x\", \"n\": 2}", "n"),
        new Case("/v1/completions", "{\"prompt\": \"x\", \"echo\": true}", "echo"),
        new Case("/v1/completions", "{\"prompt\": \"x\", \"suffix\": \"end\"}", "suffix"),
        new Case("/v1/completions", "{\"prompt\": \"x\", \"best_of\": 2}", "best_of"),
        new Case("/v1/completions", "{\"prompt\": \"x\", \"logit_bias\": {\"5\": 10}}", "logit_bias"),
        new Case("/v1/completions", "{\"prompt\": [\"a\", \"b\"]}", "prompt"),
        new Case("/v1/completions", "{\"prompt\": [[1, 2]]}", "prompt"),
        new Case("/v1/completions", "{\"prompt\": [1, 99999]}", "prompt"),
        new Case("/v1/completions", "{}", "prompt"),
        new Case("/v1/completions", "{\"prompt\": \"x\", \"stop\": [\"a\", \"b\", \"c\", \"d\", \"e\"]}", "stop"),
        new Case("/v1/completions", "{\"prompt\": \"x\", \"stop\": 5}", "stop"),
        new Case("/v1/completions", "{\"prompt\": \"x\", \"logprobs\": 6}", "logprobs"),
        new Case("/v1/completions", "{\"prompt\": \"x\", \"max_tokens\": 0}", "max_tokens"),
        new Case("/v1/completions", "{\"prompt\": \"x\", \"max_tokens\": 2.5}", "max_tokens"),
        new Case("/v1/completions", "{\"prompt\": \"x\", \"top_p\": 0}", "top_p"),
        new Case("/v1/completions", "{\"prompt\": \"x\", \"presence_penalty\": 3}", "presence_penalty"),
        new Case("/v1/completions", "{\"prompt\": \"x\", \"stop_token_ids\": [600]}", "stop_token_ids"),
        new Case("/v1/completions", "{\"prompt\": \"x\", \"stream_options\": {\"include_usage\": true}}",
            "stream_options"),
        new Case("/v1/completions", "{\"prompt\": \"x\", \"stream\": \"yes\"}", "stream"),
        new Case("/v1/chat/completions", "{\"messages\": []}", "messages"),
        new Case("/v1/chat/completions", "{\"messages\": [{\"content\": \"x\"}]}", "messages"),
        new Case("/v1/chat/completions",
            "{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"image_url\"}]}]}", "messages"),
        new Case("/v1/chat/completions",
            "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"top_logprobs\": 2}", "top_logprobs"),
        new Case("/v1/chat/completions",
            "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"logprobs\": true, \"top_logprobs\": 21}",
            "top_logprobs"),
        new Case("/v1/chat/completions",
            "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"max_completion_tokens\": 0}",
            "max_completion_tokens"));
    for (Case c : cases) {
      JsonNode e = error(post(c.path(), c.body()), 400);
      assertEquals(c.param(), e.get("param").textValue(), c.body() + " -> " + e);
      assertEquals("invalid_request_error", e.get("type").asText());
    }
    JsonNode e = error(post("/v1/completions", "{\"prompt\": "), 400);
    assertTrue(e.get("message").asText().startsWith("the request body is not valid JSON"), e.toString());
    error(post("/v1/completions", "[1, 2]"), 400);
  }

  @Test
  void anotherModelIs404ModelNotFound() {
    JsonNode e = error(post("/v1/completions", "{\"model\": \"gpt-4\", \"prompt\": \"x\"}"), 404);
    assertEquals("model_not_found", e.get("code").asText());
    assertEquals("The model `gpt-4` does not exist.", e.get("message").asText());
    error(post("/v1/chat/completions", "{\"model\": \"gpt-4\", \"messages\": [{\"role\": \"user\", \"content\": \"x\"}]}"),
        404);
  }

  @Test
  void tooLongForTheContextIsOpenAisContextLengthExceeded() {
    engine.maxModelLength = 20;
    JsonNode e = error(post("/v1/completions", "{\"prompt\": [1, 2, 3, 4, 5], \"max_tokens\": 16}"), 400);
    assertEquals("context_length_exceeded", e.get("code").asText());
    assertEquals("This model's maximum context length is 20 tokens. However, you requested 21 tokens (5 in the"
        + " prompt, 16 in the completion). Please reduce the length of the prompt or completion.",
        e.get("message").asText());
    String longChat = "{\"messages\": [{\"role\": \"user\", \"content\": \"" + "word ".repeat(40) + "\"}]}";
    JsonNode chat = error(post("/v1/chat/completions", longChat), 400);
    assertTrue(chat.get("message").asText().matches("This model's maximum context length is 20 tokens\\. However,"
        + " you requested \\d+ tokens \\(\\d+ in the messages, 1 in the completion\\)\\. Please reduce the length of"
        + " the messages or completion\\."), chat.toString());
  }

  @Test
  void engineRefusalsMapToStatuses() {
    engine.reject = new EngineRejectedException(EngineRejectedException.Kind.QUEUE_FULL, "64 requests waiting");
    JsonNode e = error(post("/v1/completions", "{\"prompt\": \"x\"}"), 429);
    assertEquals("64 requests waiting", e.get("message").asText());
    engine.reject = new EngineRejectedException(EngineRejectedException.Kind.UNAVAILABLE, "peer 2 is gone");
    HttpResponse<String> unavailable = post("/v1/completions", "{\"prompt\": \"x\"}");
    assertEquals("service_unavailable", error(unavailable, 503).get("code").asText());
    assertEquals("2", unavailable.headers().firstValue("retry-after").orElse(""), "a client may retry");
    engine.reject = new EngineRejectedException(EngineRejectedException.Kind.INVALID, "too long for the KV cache");
    error(post("/v1/chat/completions", CHAT + "}"), 400);
    engine.reject = null;
    engine.notReadyReason = "connecting to peers";
    error(post("/v1/completions", "{\"prompt\": \"x\"}"), 503);
  }

  @Test
  void anEngineFailureIs500OrAnErrorEvent() {
    engine.failAfter = 2;
    JsonNode e = error(post("/v1/completions", "{\"prompt\": \"x\", \"max_tokens\": 10}"), 500);
    assertTrue(e.get("message").asText().contains("scripted failure"));
    HttpResponse<String> r = post("/v1/completions", "{\"prompt\": \"x\", \"max_tokens\": 10, \"stream\": true}");
    List<JsonNode> events = events(r);
    assertTrue(events.getLast().has("error"), events.getLast().toString());
  }

  /**
   * A request the worker could not finish through no fault of its own (its group lost a peer for
   * too long): a 503 with Retry-After before the response started, a stream's last event an error
   * a client can tell is retryable (service_unavailable), then [DONE].
   */
  @Test
  void anUnavailableEndIsRetryable() {
    engine.failAfter = 2;
    engine.failWith = FinishReason.UNAVAILABLE;
    HttpResponse<String> whole = post("/v1/completions", "{\"prompt\": \"x\", \"max_tokens\": 10}");
    JsonNode e = error(whole, 503);
    assertEquals("service_unavailable_error", e.get("type").asText());
    assertEquals("service_unavailable", e.get("code").asText());
    assertTrue(e.get("message").asText().contains("send it again: scripted failure"), e.toString());
    assertEquals("2", whole.headers().firstValue("retry-after").orElse(""));
    List<JsonNode> events = events(post("/v1/completions",
        "{\"prompt\": \"x\", \"max_tokens\": 10, \"stream\": true}"));
    assertEquals(3, events.size(), "two tokens, then the error: " + events);
    assertEquals("service_unavailable", events.getLast().path("error").path("code").asText(), events.toString());
  }

  @Test
  void methodsPathsAndSizes() {
    HttpResponse<String> r = get("/v1/completions");
    assertEquals("method_not_allowed", error(r, 405).get("code").asText());
    assertEquals("POST", r.headers().firstValue("allow").orElse(""));
    error(post("/v1/models", "{}"), 405);
    assertEquals("not_found", error(get("/v1/nothing"), 404).get("code").asText());
    error(get("/metrics"), 404);
    try (OpenAiServer small = OpenAiServer.start(new InetSocketAddress("127.0.0.1", 0), engine, tokenizer,
        ApiOptions.defaults().withMaxBodyBytes(1024))) {
      String big = "{\"prompt\": \"" + "x".repeat(2000) + "\"}";
      HttpResponse<String> tooBig = send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
          + small.address().getPort() + "/v1/completions")).POST(HttpRequest.BodyPublishers.ofString(big)).build());
      assertEquals("request_too_large", error(tooBig, 413).get("code").asText());
    }
  }

  @Test
  void anApiKeyGuardsV1ButNotHealth() {
    try (OpenAiServer guarded = OpenAiServer.start(new InetSocketAddress("127.0.0.1", 0), engine, tokenizer,
        ApiOptions.defaults().withApiKey(BearerToken.of("sk-test")).withServedModelName("my-moe"))) {
      String base = "http://127.0.0.1:" + guarded.address().getPort();
      HttpResponse<String> none = send(HttpRequest.newBuilder(URI.create(base + "/v1/models")).build());
      assertEquals("invalid_api_key", error(none, 401).get("code").asText());
      HttpResponse<String> wrong = send(HttpRequest.newBuilder(URI.create(base + "/v1/completions"))
          .header("Authorization", "Bearer sk-wrong").POST(HttpRequest.BodyPublishers.ofString("{}")).build());
      error(wrong, 401);
      HttpResponse<String> right = send(HttpRequest.newBuilder(URI.create(base + "/v1/models"))
          .header("Authorization", "Bearer sk-test").build());
      assertEquals("my-moe", json(right).get("data").get(0).get("id").asText());
      assertEquals(200, send(HttpRequest.newBuilder(URI.create(base + "/health")).build()).statusCode());
    }
  }

  // ---- disconnects ----

  static final String STREAM_REQUEST = "{\"prompt\": \"x\", \"max_tokens\": 5000, \"ignore_eos\": true, \"stream\": true}";

  static Socket rawPost(String body) throws IOException {
    Socket socket = new Socket("127.0.0.1", server.address().getPort());
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    OutputStream out = socket.getOutputStream();
    out.write(("POST /v1/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        + "Content-Length: " + bytes.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
    out.write(bytes);
    out.flush();
    return socket;
  }

  @Test
  void aStreamingClientThatLeavesCancelsItsRequest() throws IOException {
    engine.maxModelLength = 8192;
    engine.stepMillis = 20;
    String id;
    try (Socket socket = rawPost(STREAM_REQUEST)) {
      InputStream in = socket.getInputStream();
      String received = "";
      byte[] buffer = new byte[4096];
      while (!received.contains("data: ")) {
        int n = in.read(buffer);
        assertTrue(n > 0);
        received += new String(buffer, 0, n, StandardCharsets.UTF_8);
      }
      id = engine.last().id();
      assertFalse(engine.cancelled.contains(id));
    }
    awaitCancelled(id);
  }

  @Test
  void aWaitingClientThatLeavesCancelsItsRequest() throws IOException, InterruptedException {
    engine.maxModelLength = 8192;
    engine.stepMillis = 20;
    int before = engine.submitted.size();
    try (Socket socket = rawPost("{\"prompt\": \"x\", \"max_tokens\": 5000, \"ignore_eos\": true}")) {
      while (engine.submitted.size() == before) {
        Thread.sleep(5);
      }
      Thread.sleep(100); // some tokens generated, nothing written yet: only the close can tell
    }
    awaitCancelled(engine.last().id());
  }

  @Test
  void closeLetsShortRequestsFinishAndCancelsTheRest() throws Exception {
    engine.maxModelLength = 8192;
    engine.stepMillis = 10;
    OpenAiServer closing = OpenAiServer.start(new InetSocketAddress("127.0.0.1", 0), engine, tokenizer,
        ApiOptions.defaults().withShutdownGrace(Duration.ofSeconds(2)));
    String base = "http://127.0.0.1:" + closing.address().getPort() + "/v1/completions";
    int before = engine.submitted.size();
    var shortOne = client.sendAsync(HttpRequest.newBuilder(URI.create(base)).POST(HttpRequest.BodyPublishers.ofString(
        "{\"prompt\": \"x\", \"max_tokens\": 20, \"ignore_eos\": true}")).build(), HttpResponse.BodyHandlers.ofString());
    var longOne = client.sendAsync(HttpRequest.newBuilder(URI.create(base)).POST(HttpRequest.BodyPublishers.ofString(
        "{\"prompt\": \"x\", \"max_tokens\": 5000, \"ignore_eos\": true}")).build(), HttpResponse.BodyHandlers.ofString());
    while (engine.submitted.size() < before + 2) {
      Thread.sleep(5);
    }
    long start = System.nanoTime();
    closing.close();
    assertTrue(System.nanoTime() - start < Duration.ofSeconds(10).toNanos());
    HttpResponse<String> finished = shortOne.get();
    assertEquals(200, finished.statusCode(), finished.body());
    assertEquals(20, json(finished).get("usage").get("completion_tokens").asInt());
    String longId = engine.submitted.stream().filter(r -> r.sampling().maxTokens() == 5000).reduce((a, b) -> b)
        .orElseThrow().id();
    awaitCancelled(longId);
    assertTrue(longOne.handle((r, e) -> e != null || r.statusCode() != 200).get());
  }

  @Test
  void requestsOnOneConnectionAreAnsweredInOrder() throws IOException {
    String one = "{\"prompt\": \"x\", \"max_tokens\": 3}";
    String two = "{\"prompt\": \"x\", \"max_tokens\": 5}";
    try (Socket socket = new Socket("127.0.0.1", server.address().getPort())) {
      OutputStream out = socket.getOutputStream();
      for (String body : List.of(one, two)) {
        out.write(("POST /v1/completions HTTP/1.1\r\nHost: localhost\r\nContent-Length: " + body.length()
            + "\r\n\r\n" + body).getBytes(StandardCharsets.US_ASCII));
      }
      out.flush();
      socket.setSoTimeout(10_000);
      InputStream in = socket.getInputStream();
      StringBuilder received = new StringBuilder();
      byte[] buffer = new byte[4096];
      while (received.indexOf("\"completion_tokens\":5") < 0) {
        int n = in.read(buffer);
        assertTrue(n > 0, received.toString());
        received.append(new String(buffer, 0, n, StandardCharsets.UTF_8));
      }
      assertTrue(received.indexOf("\"completion_tokens\":3") < received.indexOf("\"completion_tokens\":5"));
    }
  }
}

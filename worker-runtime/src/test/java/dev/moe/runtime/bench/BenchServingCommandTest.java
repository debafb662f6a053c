package dev.moe.runtime.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moe.runtime.Fixtures;
import dev.moe.runtime.api.ApiOptions;
import dev.moe.runtime.api.OpenAiServer;
import dev.moe.runtime.api.ScriptedEngine;
import dev.moe.runtime.cli.WorkerCli;
import dev.moe.runtime.scheduler.GenerationRequest;
import dev.moe.runtime.server.BearerToken;
import dev.moe.runtime.tokenizer.TextTokenizer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** bench-serving against the OpenAI server in front of a scripted engine. */
class BenchServingCommandTest {

  /** concurrency, requests, errors, TTFT p50, p99, TPOT p50, p99, tok/s, vs first. */
  static final Pattern ROW = Pattern.compile("^\\s+(\\d+)\\s+(\\d+)\\s+(\\d+)\\s+([0-9.]+)\\s+([0-9.]+)\\s+([0-9.]+)"
      + "\\s+([0-9.]+)\\s+([0-9.]+)\\s+([0-9.]+)x$", Pattern.MULTILINE);

  static TextTokenizer tokenizer;
  static ScriptedEngine engine;
  static OpenAiServer server;

  @BeforeAll
  static void start() {
    tokenizer = TextTokenizer.load(Fixtures.dir("qwen2_moe"));
    engine = new ScriptedEngine(512, tokenizer.encode(" one two three four", false),
        tokenizer.tokenId(tokenizer.eosToken()));
    engine.maxModelLength = 4096;
    engine.stepMillis = 2;
    server = OpenAiServer.start(new InetSocketAddress("127.0.0.1", 0), engine, tokenizer,
        ApiOptions.defaults().withApiKey(BearerToken.of("k3y")));
  }

  @AfterAll
  static void stop() {
    server.close();
    engine.close();
    tokenizer.close();
  }

  record Run(int code, String out, String err) {}

  static Run run(String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    String[] all = new String[args.length + 1];
    all[0] = "bench-serving";
    System.arraycopy(args, 0, all, 1, args.length);
    int code = WorkerCli.run(all, new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8));
    return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }

  @Test
  void eachLevelReportsLatenciesAndThroughput(@TempDir Path dir) throws IOException {
    Path key = Files.writeString(dir.resolve("key"), "k3y\n");
    String url = "http://127.0.0.1:" + server.address().getPort();
    int before = engine.submitted.size();
    Run run = run("--url", url, "--api-key-file", key.toString(), "--concurrency", "1,3", "--requests", "6",
        "--prompt-tokens", "24", "--max-tokens", "8");
    assertEquals(0, run.code(), run.err());
    assertTrue(run.out().contains("model scripted-moe"), run.out());
    Matcher rows = ROW.matcher(run.out());
    int levels = 0;
    while (rows.find()) {
      assertEquals(levels == 0 ? 1 : 3, Integer.parseInt(rows.group(1)), rows.group());
      assertEquals(6, Integer.parseInt(rows.group(2)));
      assertEquals(0, Integer.parseInt(rows.group(3)), run.out());
      for (int g = 4; g <= 9; g++) {
        assertTrue(Double.parseDouble(rows.group(g)) > 0, rows.group());
      }
      levels++;
    }
    assertEquals(2, levels, run.out());
    // First one request that measures how many tokens a prompt's words make, then the levels'.
    assertEquals(13, engine.submitted.size() - before);
    assertEquals(1, engine.submitted.get(before).sampling().maxTokens());
    List<GenerationRequest> sent = engine.submitted.subList(before + 1, engine.submitted.size());
    for (GenerationRequest r : sent) {
      assertEquals(8, r.sampling().maxTokens());
      assertTrue(r.sampling().ignoreEos());
      assertTrue(r.promptLength() >= 12 && r.promptLength() <= 200, "prompt of " + r.promptLength());
    }
    assertEquals(12, sent.stream().map(r -> List.of(r.prompt())).distinct().count(), "prompts differ per request");
  }

  @Test
  void openLoopAtARate(@TempDir Path dir) throws IOException {
    Path key = Files.writeString(dir.resolve("key"), "k3y\n");
    Run run = run("--url", "http://127.0.0.1:" + server.address().getPort(), "--model", "scripted-moe",
        "--api-key-file", key.toString(), "--concurrency", "2", "--requests", "4", "--prompt-tokens", "8",
        "--max-tokens", "4", "--rate", "50");
    assertEquals(0, run.code(), run.err());
    assertTrue(run.out().contains("open loop at 50.00 requests/s"), run.out());
    // Without the key the benchmark stops at once with what is missing.
    run = run("--url", "http://127.0.0.1:" + server.address().getPort(), "--model", "scripted-moe",
        "--concurrency", "2", "--requests", "4", "--max-tokens", "4");
    assertEquals(2, run.code(), run.err());
    assertTrue(run.err().contains("wants an API key"), run.err());
  }

  @Test
  void badOptionsAreOneLineAndExitTwo() {
    String url = "http://127.0.0.1:" + server.address().getPort();
    for (String[] args : List.of(
        new String[] {"--url", url, "--concurrency", "1,0"},
        new String[] {"--url", url, "--concurrency", "a"},
        new String[] {"--url", "ftp://x"},
        new String[] {"--url", url, "--requests", "0"},
        new String[] {"--url", url, "--rate", "-1"},
        new String[] {"--url", url, "--api-key-file", "/nonexistent/key"},
        new String[] {"--url", url},
        new String[] {"--url", "http://127.0.0.1:1"})) {
      Run run = run(args);
      assertEquals(2, run.code(), String.join(" ", args) + ": " + run.err());
      assertTrue(run.err().startsWith("worker-runtime: error: "), run.err());
      assertEquals(1, run.err().strip().lines().count(), run.err());
    }
  }
}

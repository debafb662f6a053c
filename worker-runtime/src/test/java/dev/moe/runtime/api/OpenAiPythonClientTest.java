package dev.moe.runtime.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.moe.runtime.Fixtures;
import dev.moe.runtime.server.BearerToken;
import dev.moe.runtime.tokenizer.TextTokenizer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The official {@code openai} Python client streams from the server (chat and completions), reads
 * logprobs and gets errors as its own exceptions. The interpreter is {@link #python()}.
 */
public class OpenAiPythonClientTest {

  static final String SCRIPT = " Hello world! The quick brown fox jumps over the lazy dog.";

  @Test
  void theOfficialClientStreamsChatAndCompletions() throws Exception {
    String python = python();
    try (TextTokenizer tokenizer = TextTokenizer.load(Fixtures.dir("qwen2_moe"))) {
      int eos = tokenizer.tokenId(tokenizer.eosToken());
      int[] text = tokenizer.encode(SCRIPT, false);
      int[] script = Arrays.copyOf(text, text.length + 1);
      script[text.length] = eos;
      try (ScriptedEngine engine = new ScriptedEngine(512, script, eos);
          OpenAiServer server = OpenAiServer.start(new InetSocketAddress("127.0.0.1", 0), engine, tokenizer,
              ApiOptions.defaults().withApiKey(BearerToken.of("sk-local")))) {
        JsonNode out = run(python, "http://127.0.0.1:" + server.address().getPort(), server.modelName(), "sk-local");
        String decoded8 = tokenizer.decode(Arrays.copyOf(script, 8), true);

        JsonNode chat = out.get("chat_stream");
        assertEquals("assistant", chat.get("role").asText());
        assertEquals(decoded8, chat.get("text").asText());
        assertEquals("length", chat.get("finish_reason").asText());
        assertEquals(8, chat.get("usage").get("completion_tokens").asInt());

        JsonNode completion = out.get("completion_stream");
        assertEquals(tokenizer.decode(Arrays.copyOf(script, 5), true), completion.get("text").asText());
        assertEquals("length", completion.get("finish_reason").asText());

        JsonNode whole = out.get("chat");
        assertEquals(tokenizer.decode(Arrays.copyOf(script, 3), true), whole.get("text").asText());
        assertEquals(3, whole.get("logprob_tokens").size());
        assertEquals("[2,2,2]", whole.get("top").toString());

        JsonNode stopped = out.get("completion");
        assertEquals(" Hello world", stopped.get("text").asText()); // the stop string "!" within 20 tokens
        assertEquals("stop", stopped.get("finish_reason").asText());
        assertEquals(0, stopped.get("text_offset").get(0).asInt());

        assertEquals("model_not_found", out.get("not_found").get("code").asText());
        assertEquals("n", out.get("bad_request").get("param").asText());
      }
    }
  }

  /**
   * The interpreter with the openai package: {@code $MOE_OPENAI_PYTHON}, else the one
   * {@code scripts/openai-python} provides (a cached venv with the pinned client, made on first use).
   */
  public static String python() throws IOException, InterruptedException {
    String given = System.getenv("MOE_OPENAI_PYTHON");
    if (given != null && !given.isBlank()) {
      return given;
    }
    Process p = new ProcessBuilder("scripts/openai-python").redirectError(ProcessBuilder.Redirect.INHERIT).start();
    String path = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
    if (!p.waitFor(300, TimeUnit.SECONDS) || p.exitValue() != 0 || path.isEmpty()) {
      fail("scripts/openai-python could not provide a Python with the openai package (it installs openai from PyPI"
          + " into a venv); set MOE_OPENAI_PYTHON to an interpreter that has it");
    }
    return path;
  }

  /** Runs the client check; fails with how to get the openai package when it is missing. */
  public static JsonNode run(String python, String baseUrl, String model, String key)
      throws IOException, InterruptedException, URISyntaxException {
    Path script = Path.of(OpenAiPythonClientTest.class.getResource("/openai/client_check.py").toURI());
    String install = " Install it (pip install openai) or point MOE_OPENAI_PYTHON at an interpreter that has it.";
    Process process;
    try {
      process = new ProcessBuilder(python, script.toString(), baseUrl, model, key).redirectErrorStream(false).start();
    } catch (IOException e) {
      fail("cannot run the Python interpreter '" + python + "': " + e.getMessage() + "." + install);
      throw e;
    }
    process.getOutputStream().close();
    byte[] stdout = process.getInputStream().readAllBytes();
    byte[] stderr = process.getErrorStream().readAllBytes();
    if (!process.waitFor(120, TimeUnit.SECONDS)) {
      process.destroyForcibly();
      fail("the openai client check did not finish in 120 s");
    }
    String err = new String(stderr, StandardCharsets.UTF_8);
    if (process.exitValue() == 3) {
      fail("the Python interpreter '" + python + "' cannot import openai." + install);
    }
    assertEquals(0, process.exitValue(), "the openai client check failed:\n" + err);
    String line = new String(stdout, StandardCharsets.UTF_8).strip();
    assertTrue(line.startsWith("{"), line + "\n" + err);
    return new ObjectMapper().readTree(line);
  }
}

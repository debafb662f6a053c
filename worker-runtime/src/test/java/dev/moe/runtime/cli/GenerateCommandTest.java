package dev.moe.runtime.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moe.runtime.Fixtures;
import dev.moe.runtime.ModelExpectations;
import dev.moe.runtime.tokenizer.TextTokenizer;
import java.util.Arrays;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/** {@code generate}: the completion's text alone, as transformers' greedy generate continues the prompt. */
class GenerateCommandTest {

  @ParameterizedTest
  @ValueSource(strings = {"mixtral", "qwen3_moe", "deepseek_v3"})
  void printsTheGreedyCompletionOnOneAndThreeWorkers(String fixture) {
    ModelExpectations want = ModelExpectations.of(fixture);
    String dir = Fixtures.dir(fixture).toString();
    try (TextTokenizer tokenizer = TextTokenizer.load(Fixtures.dir(fixture))) {
      String prompt = tokenizer.decode(want.prompt(), true);
      assertArrayEquals(want.prompt(), tokenizer.encode(prompt, true), "the prompt's text encodes back to its ids");
      int n = 12;
      String expected = tokenizer.decode(Arrays.copyOf(want.generated(), n), true);
      for (String workers : new String[] {"1", "3"}) {
        ForwardCommandTest.Run r = ForwardCommandTest.run("generate", "--checkpoint", dir, "--prompt", prompt,
            "--max-tokens", Integer.toString(n), "--workers", workers, "--backend", "cpu", "--kv-cache-tokens", "512");
        assertEquals(0, r.code(), r.err());
        assertEquals(expected + System.lineSeparator(), r.out(), fixture + " on " + workers + " worker(s)");
      }
    }
  }

  @Test
  void mistakesAreOneLine() {
    String dir = Fixtures.dir("qwen3_moe").toString();
    ForwardCommandTest.Run r = ForwardCommandTest.run("generate", "--checkpoint", dir, "--prompt", "hi",
        "--max-tokens", "0", "--backend", "cpu");
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().startsWith("worker-runtime: error: "), r.err());
    assertTrue(r.err().contains("max_tokens must be at least 1"), r.err());
    assertEquals(1, r.err().strip().lines().count(), r.err());
    assertFalse(r.err().contains("Exception"), r.err());
    r = ForwardCommandTest.run("generate", "--checkpoint", dir, "--prompt", "hi", "--kv-cache-tokens", "4",
        "--backend", "cpu");
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains("holds no block"), r.err());
  }
}

package dev.moe.runtime.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moe.runtime.Fixtures;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Text deltas of generated tokens against the whole decode: the same text, with leading spaces and
 * multi-byte characters (emoji and CJK split over byte tokens) right, never a half character.
 */
class IncrementalDetokenizerTest {

  static final List<String> TEXTS = List.of(
      "The quick brown fox jumps over the lazy dog.",
      "naïve café, Zürich, São Paulo — 日本語のテキスト",
      "emoji: 🙂🚀 👍🏽 ❤️ done",
      "   three leading spaces,  two  inside and trailing  ",
      "line one\nline two\n\n\ttabbed\r\nend");

  @ParameterizedTest
  @ValueSource(strings = {"mixtral", "qwen2_moe", "qwen3_moe", "olmoe", "deepseek_v3"})
  void deltasAddUpToTheDecodedContinuation(String arch) {
    try (TextTokenizer t = TextTokenizer.load(Fixtures.dir(arch))) {
      int checked = 0;
      for (String text : TEXTS) {
        int[] ids = t.encode(text, true);
        for (int split : new int[] {0, 1, 3, ids.length / 2}) {
          int[] prompt = Arrays.copyOf(ids, Math.min(split, ids.length));
          String whole = t.decode(ids, true);
          String before = t.decode(prompt, true);
          if (!whole.startsWith(before)) {
            continue; // the decode of the prompt alone is not a prefix (clean-up of spaces): nothing to compare
          }
          IncrementalDetokenizer d = new IncrementalDetokenizer(t, prompt, true);
          StringBuilder out = new StringBuilder();
          for (int i = prompt.length; i < ids.length; i++) {
            String delta = d.next(ids[i]);
            assertFalse(delta.contains("\uFFFD"), arch + ": a half character in " + delta);
            out.append(delta);
          }
          out.append(d.flush());
          assertEquals(whole.substring(before.length()), out.toString(), arch + " " + text + " after " + split);
          checked++;
        }
      }
      assertTrue(checked >= 15, arch + ": " + checked);
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"mixtral", "qwen2_moe", "deepseek_v3"})
  void anUnfinishedCharacterIsHeldThenFlushedAsTheReplacementCharacter(String arch) {
    try (TextTokenizer t = TextTokenizer.load(Fixtures.dir(arch))) {
      int[] ids = t.encode("a 🙂", false);
      // The emoji's bytes are more than one token in these small vocabularies.
      IncrementalDetokenizer d = new IncrementalDetokenizer(t, new int[0], true);
      StringBuilder out = new StringBuilder();
      for (int i = 0; i < ids.length - 1; i++) {
        out.append(d.next(ids[i]));
      }
      assertFalse(out.toString().contains("🙂"));
      assertEquals(t.decode(Arrays.copyOf(ids, ids.length - 1), true), out + d.flush());
      assertTrue(t.decode(Arrays.copyOf(ids, ids.length - 1), true).endsWith("\uFFFD"));
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"mixtral", "qwen2_moe"})
  void tokenTextKeepsTheLeadingSpace(String arch) {
    try (TextTokenizer t = TextTokenizer.load(Fixtures.dir(arch))) {
      int[] prompt = t.encode("The quick", false);
      int[] next = t.encode("The quick brown", false);
      int brown = next[prompt.length];
      IncrementalDetokenizer d = new IncrementalDetokenizer(t, prompt, true);
      String shown = d.tokenText(brown);
      assertTrue(shown.startsWith(" "), arch + ": '" + shown + "'");
      assertEquals(shown, d.next(brown));
    }
  }
}

package dev.moe.runtime.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class StopStringsTest {

  /** Feeds {@code pieces}; returns what was released, "|"-separated per push, then the flush. */
  static String run(List<String> stops, String... pieces) {
    StopStrings s = new StopStrings(stops);
    StringBuilder out = new StringBuilder();
    for (String p : pieces) {
      out.append(s.push(p)).append('|');
    }
    return out.append(s.flush()).toString();
  }

  @Test
  void aStopStringAcrossPiecesEndsTheTextBeforeIt() {
    assertEquals("He|ll|||", run(List.of("o w"), "He", "llo wor", "ld", "!"));
    StopStrings s = new StopStrings(List.of("o w"));
    s.push("Hello w");
    assertTrue(s.stopped());
    assertEquals("", s.push("more"));
  }

  @Test
  void whatCouldStartAStopStringIsHeldBackUntilItCannot() {
    // "##" might begin "###": held; "#!" cannot: released whole.
    assertEquals("a||##!b|", run(List.of("###"), "a#", "#", "!b"));
    // Held text comes out at the end when no stop string completed.
    assertEquals("x||##", run(List.of("###"), "x#", "#"));
  }

  @Test
  void theEarliestOccurrenceWins() {
    assertEquals("a|", run(List.of("cd", "bc"), "abcd"));
    assertEquals("a|", run(List.of("bc", "cd"), "abcd"));
    assertEquals("|", run(List.of("x"), "xyz"));
  }

  @Test
  void overlappingPrefixesAreHeldCorrectly() {
    // "aab": the stop "ab" starts at the second "a", not the first.
    assertEquals("a||", run(List.of("ab"), "aa", "b"));
    assertEquals("aa||a", run(List.of("ab"), "aaa", ""));
  }

  @Test
  void noStopsReleaseEverything() {
    StopStrings s = new StopStrings(List.of("", ""));
    assertTrue(s.isEmpty());
    assertEquals("abc", s.push("abc"));
    assertFalse(s.stopped());
    assertEquals("", s.flush());
  }

  @Test
  void surrogatePairsAreNeverSplit() {
    assertEquals("x|🙂!|", run(List.of("🙂🚀"), "x🙂", "!"));
    assertEquals("x||", run(List.of("🙂🚀"), "x🙂", "🚀"));
  }
}

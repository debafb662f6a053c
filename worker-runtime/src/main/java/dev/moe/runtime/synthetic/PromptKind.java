package dev.moe.runtime.synthetic;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * The two kinds of prompts that the synthetic DeepSeek-V3 checkpoint ({@link SyntheticCheckpoint})
 * routes differently: its routers are fitted so that the tokens of one kind, prompt and generated
 * alike, are routed as SGLang measured DeepSeek-V3's decode traffic, and those of the other as its
 * prefill traffic. A prompt is text: words of {@value #WORDS} pronounceable pseudo-words
 * (consonant, vowel, consonant, vowel), lowercase for one kind and uppercase for the other; each
 * word after the first is one token, and the model goes on in the prompt's kind.
 */
public enum PromptKind {

  /** Lowercase words ("bako zemi"), routed as SGLang's measured decode traffic. */
  DECODE,
  /** Uppercase words ("BAKO ZEMI"), routed as SGLang's measured prefill traffic. */
  PREFILL;

  /** Words of each kind's vocabulary. */
  public static final int WORDS = 1024;

  static final String CONSONANTS = "bcdfghjklmnpqrstvwxyz";
  static final String VOWELS = "aeiou";

  /** The lowercase words, fixed (not a checkpoint's seed) so that prompts fit every checkpoint. */
  private static final List<String> LOWERCASE = lowercaseWords();

  /** Word {@code i} of this kind, {@code 0 <= i < WORDS}. */
  public String word(int i) {
    String w = LOWERCASE.get(i);
    return this == DECODE ? w : w.toUpperCase(Locale.ROOT);
  }

  /**
   * {@code count} prompts of {@code words} words each, every word drawn uniformly from this kind's
   * vocabulary; the same arguments give the same prompts.
   */
  public List<String> prompts(int count, int words, long seed) {
    if (count < 0 || words < 1) {
      throw new IllegalArgumentException("prompts need a count >= 0 and at least 1 word each, got " + count + " x "
          + words);
    }
    SplittableRandom r = new SplittableRandom(seed * 31 + ordinal());
    List<String> prompts = new ArrayList<>(count);
    for (int p = 0; p < count; p++) {
      StringBuilder text = new StringBuilder();
      for (int w = 0; w < words; w++) {
        if (w > 0) {
          text.append(' ');
        }
        text.append(word(r.nextInt(WORDS)));
      }
      prompts.add(text.toString());
    }
    return prompts;
  }

  /** The syllables (consonant, vowel) that words are made of, lowercase. */
  static List<String> syllables() {
    List<String> s = new ArrayList<>();
    for (char c : CONSONANTS.toCharArray()) {
      for (char v : VOWELS.toCharArray()) {
        s.add("" + c + v);
      }
    }
    return s;
  }

  /** WORDS distinct two-syllable words, a fixed draw from all of them. */
  private static List<String> lowercaseWords() {
    List<String> syllables = syllables();
    int n = syllables.size();
    int[] all = new int[n * n];
    for (int i = 0; i < all.length; i++) {
      all[i] = i;
    }
    SplittableRandom r = new SplittableRandom(17);
    List<String> words = new ArrayList<>(WORDS);
    for (int i = 0; i < WORDS; i++) {
      int j = i + r.nextInt(all.length - i);
      int pick = all[j];
      all[j] = all[i];
      all[i] = pick;
      words.add(syllables.get(pick / n) + syllables.get(pick % n));
    }
    return List.copyOf(words);
  }
}

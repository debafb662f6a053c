package dev.moe.runtime.tokenizer;

import java.util.Arrays;

/**
 * Generated tokens as text deltas, the way vLLM detokenizes incrementally: each new token is
 * decoded together with a few tokens before it (the prefix window, which starts in the prompt), and
 * the delta is what that decoding adds to the decoding of the window alone. So a token's leading
 * space (SentencePiece's "▁", byte-level "Ġ") comes out as the full decode would have it, and a
 * character split over several byte tokens appears once complete: while the text ends in an
 * incomplete UTF-8 sequence (U+FFFD) nothing is emitted.
 *
 * <p>Not thread-safe: one per request.
 */
public final class IncrementalDetokenizer {

  /** How many prompt tokens start the window (vLLM's INITIAL_INCREMENTAL_DETOKENIZATION_OFFSET). */
  static final int PROMPT_CONTEXT = 5;

  private static final String REPLACEMENT = "\uFFFD";

  private final TextTokenizer tokenizer;
  private final boolean skipSpecialTokens;
  private int[] ids;
  private int size;
  /** ids[prefix, read) is the context already emitted; ids[read, size) are held back. */
  private int prefix;
  private int read;

  /**
   * @param prompt the prompt's ids (its last few give the first tokens their context)
   * @param skipSpecialTokens leave special tokens (end of sequence, say) out of the text
   */
  public IncrementalDetokenizer(TextTokenizer tokenizer, int[] prompt, boolean skipSpecialTokens) {
    this.tokenizer = tokenizer;
    this.skipSpecialTokens = skipSpecialTokens;
    int from = Math.max(prompt.length - PROMPT_CONTEXT, 0);
    ids = Arrays.copyOf(Arrays.copyOfRange(prompt, from, prompt.length), Math.max(16, 2 * (prompt.length - from)));
    size = prompt.length - from;
    read = size;
  }

  /** The text that {@code token} adds, possibly empty (held back until a character completes). */
  public String next(int token) {
    if (size == ids.length) {
      compact();
    }
    ids[size++] = token;
    String prefixText = decode(prefix, read);
    String newText = decode(prefix, size);
    if (newText.length() <= prefixText.length() || newText.endsWith(REPLACEMENT)) {
      return "";
    }
    prefix = read;
    read = size;
    return newText.substring(prefixText.length());
  }

  /** What is still held back at the end of the output (an incomplete character, as U+FFFD). */
  public String flush() {
    String prefixText = decode(prefix, read);
    String newText = decode(prefix, size);
    prefix = read = size;
    return newText.length() > prefixText.length() ? newText.substring(prefixText.length()) : "";
  }

  /**
   * The text {@code token} would add after the tokens so far, without taking it (U+FFFD where it
   * is part of a character): the string the API shows for a token in log probabilities.
   */
  public String tokenText(int token) {
    String before = decode(prefix, size);
    int[] window = Arrays.copyOfRange(ids, prefix, size + 1);
    window[window.length - 1] = token;
    String after = tokenizer.decode(window, skipSpecialTokens);
    return after.length() > before.length() && after.startsWith(before) ? after.substring(before.length())
        : tokenizer.decode(new int[] {token}, skipSpecialTokens);
  }

  private String decode(int from, int to) {
    return from == to ? "" : tokenizer.decode(Arrays.copyOfRange(ids, from, to), skipSpecialTokens);
  }

  /** Drops the ids before the window; grows the array when the window fills it. */
  private void compact() {
    int live = size - prefix;
    int[] next = live * 2 > ids.length ? new int[ids.length * 2] : ids;
    System.arraycopy(ids, prefix, next, 0, live);
    ids = next;
    size = live;
    read -= prefix;
    prefix = 0;
  }
}

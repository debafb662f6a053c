package dev.moe.runtime.sampling;

import java.util.Arrays;

/**
 * How often each token was generated: an open-addressing map from token id to count, sized by the
 * tokens actually seen (a request generates far fewer distinct tokens than a vocabulary holds).
 */
final class TokenCounts {

  /** Visits one (token, count) entry. */
  interface Visitor {
    void visit(int token, int count);
  }

  private static final int EMPTY = -1;

  private int[] tokens = filled(16);
  private int[] counts = new int[16];
  private int size;

  void add(int token) {
    if (2 * (size + 1) > tokens.length) {
      grow();
    }
    int slot = slot(tokens, token);
    if (tokens[slot] == EMPTY) {
      tokens[slot] = token;
      size++;
    }
    counts[slot]++;
  }

  int count(int token) {
    int slot = slot(tokens, token);
    return tokens[slot] == EMPTY ? 0 : counts[slot];
  }

  boolean isEmpty() {
    return size == 0;
  }

  void forEach(Visitor visitor) {
    for (int i = 0; i < tokens.length; i++) {
      if (tokens[i] != EMPTY) {
        visitor.visit(tokens[i], counts[i]);
      }
    }
  }

  private void grow() {
    int[] oldTokens = tokens;
    int[] oldCounts = counts;
    tokens = filled(oldTokens.length * 2);
    counts = new int[tokens.length];
    for (int i = 0; i < oldTokens.length; i++) {
      if (oldTokens[i] != EMPTY) {
        int slot = slot(tokens, oldTokens[i]);
        tokens[slot] = oldTokens[i];
        counts[slot] = oldCounts[i];
      }
    }
  }

  /** The slot holding {@code token}, or the empty slot where it belongs (linear probing). */
  private static int slot(int[] tokens, int token) {
    int mask = tokens.length - 1;
    int i = (token * 0x9E3779B9) >>> 7 & mask;
    while (tokens[i] != EMPTY && tokens[i] != token) {
      i = (i + 1) & mask;
    }
    return i;
  }

  private static int[] filled(int n) {
    int[] a = new int[n];
    Arrays.fill(a, EMPTY);
    return a;
  }
}

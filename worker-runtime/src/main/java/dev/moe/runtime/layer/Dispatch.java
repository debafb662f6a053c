package dev.moe.runtime.layer;

/**
 * Which rows go through which expert slot: the (token, choice) pairs of a routing, sorted by slot
 * into contiguous groups, the input of the grouped FFN, and the map back for the combine.
 *
 * <p>{@code choiceOfRow[r]} is the choice index {@code t*k+j} of row {@code r}; {@code rowOf[t*k+j]}
 * its row, or -1 for a choice not run here; rows {@code [offsets[g], offsets[g+1])} go through
 * slot {@code slotIds[g]}. Within a group rows keep token order.
 */
public record Dispatch(int tokens, int k, int[] choiceOfRow, int[] rowOf, int[] slotIds, long[] offsets, int groups) {

  /** Rows: one per choice that runs here. */
  public int rows() {
    return choiceOfRow.length;
  }

  /** Every choice goes to the slot numbered as its expert (one bank holding all experts). */
  public static Dispatch byExpert(Routing routing, int experts) {
    return bySlot(routing.ids(), routing.tokens(), routing.k(), experts);
  }

  /**
   * Groups choices by {@code slotOfChoice[t*k+j]} in {@code [0, slots)}; -1 leaves a choice out
   * (its {@code rowOf} is -1, so the combine skips it).
   */
  public static Dispatch bySlot(int[] slotOfChoice, int tokens, int k, int slots) {
    int choices = tokens * k;
    int[] count = new int[slots];
    int rows = 0;
    for (int i = 0; i < choices; i++) {
      int s = slotOfChoice[i];
      if (s == -1) {
        continue;
      }
      if (s < 0 || s >= slots) {
        throw new IllegalArgumentException("choice " + i + " goes to slot " + s + ", outside 0.." + (slots - 1));
      }
      count[s]++;
      rows++;
    }
    int groups = 0;
    for (int c : count) {
      if (c > 0) {
        groups++;
      }
    }
    int[] slotIds = new int[groups];
    long[] offsets = new long[groups + 1];
    int[] next = new int[slots];
    int g = 0;
    int start = 0;
    for (int s = 0; s < slots; s++) {
      if (count[s] > 0) {
        slotIds[g] = s;
        offsets[g] = start;
        next[s] = start;
        start += count[s];
        g++;
      }
    }
    offsets[groups] = rows;
    int[] choiceOfRow = new int[rows];
    int[] rowOf = new int[choices];
    for (int i = 0; i < choices; i++) {
      int s = slotOfChoice[i];
      if (s == -1) {
        rowOf[i] = -1;
        continue;
      }
      int r = next[s]++;
      choiceOfRow[r] = i;
      rowOf[i] = r;
    }
    return new Dispatch(tokens, k, choiceOfRow, rowOf, slotIds, offsets, groups);
  }

  /** The FFN input: row r is the token of choice {@code choiceOfRow[r]}, from {@code x} ({@code [tokens, hidden]}). */
  public float[] gather(float[] x, int hidden) {
    float[] rows = new float[Math.multiplyExact(rows(), hidden)];
    for (int r = 0; r < choiceOfRow.length; r++) {
      System.arraycopy(x, (choiceOfRow[r] / k) * hidden, rows, r * hidden, hidden);
    }
    return rows;
  }
}

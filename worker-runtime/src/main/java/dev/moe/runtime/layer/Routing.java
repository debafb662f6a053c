package dev.moe.runtime.layer;

/**
 * A router's decision for a batch: token {@code t}'s j-th choice is expert {@code ids[t*k+j]} with
 * weight {@code weights[t*k+j]}, choices in descending score order.
 */
public record Routing(int tokens, int k, int[] ids, float[] weights) {

  public Routing {
    if (ids.length != tokens * k || weights.length != tokens * k) {
      throw new IllegalArgumentException("routing of " + tokens + " tokens x " + k + " choices needs " + tokens * k
          + " ids and weights, got " + ids.length + " and " + weights.length);
    }
  }

  public int expert(int token, int choice) {
    return ids[token * k + choice];
  }

  public float weight(int token, int choice) {
    return weights[token * k + choice];
  }
}

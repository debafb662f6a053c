package dev.moe.runtime.model;

/**
 * A router's weights in float32: {@code weight} {@code [experts, hidden]} and, for DeepSeek-V3,
 * the score-correction {@code bias} {@code [experts]} (null otherwise).
 */
public record RouterWeights(int experts, int hidden, float[] weight, float[] bias) {

  public RouterWeights {
    if (weight.length != (long) experts * hidden) {
      throw new IllegalArgumentException("router weight has " + weight.length + " values, expected [" + experts + ", "
          + hidden + "]");
    }
    if (bias != null && bias.length != experts) {
      throw new IllegalArgumentException("router bias has " + bias.length + " values, expected " + experts);
    }
  }
}

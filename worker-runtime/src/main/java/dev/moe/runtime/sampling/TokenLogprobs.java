package dev.moe.runtime.sampling;

/**
 * Log probabilities of one generated token: the chosen token's, and the {@code topTokens.length}
 * most likely tokens' in decreasing order (ties to the lower id). Log-softmax of the raw logits.
 */
public record TokenLogprobs(int token, float logprob, int[] topTokens, float[] topLogprobs) {}

package dev.moe.runtime.sampling;

import java.util.Arrays;
import java.util.Objects;
import java.util.SplittableRandom;

/**
 * Chooses one request's tokens from the model's logits, as vLLM's sampler does: frequency and
 * presence penalties over the tokens this sampler chose so far, then greedy (temperature 0: the
 * most likely token, ties to the lower id) or temperature, top-k, top-p and a draw from the
 * request's own random generator. The same seed and logits give the same tokens whatever else runs
 * beside the request.
 *
 * <p>Each call makes a few O(vocabulary) passes; top-k and top-p sort only the tokens that can be
 * kept (those in the upper buckets of a histogram of probabilities), not the vocabulary. Scratch
 * buffers are per thread (the engine's step thread), not per request, so thousands of waiting
 * requests cost no vocabulary-sized arrays. The caller's logits are never modified.
 *
 * <p>Not thread-safe: one sampler per request, called by one thread at a time.
 */
public final class Sampler {

  /** A chosen token; {@code logprobs} is null unless the request asked for log probabilities. */
  public record Sample(int token, TokenLogprobs logprobs) {}

  /**
   * Histogram buckets of a weight in (0, 1]: the top 12 bits of its float representation (sign,
   * exponent and 3 mantissa bits), which order positive floats as their values do; 1.0 is bucket
   * {@value}, 0 and the tiniest subnormals bucket 0.
   */
  private static final int TOP_BUCKET = Float.floatToRawIntBits(1f) >>> 20;

  private static final float LOG2E = 1.44269504f;

  private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

  private final SamplingParams params;
  private final int vocabSize;
  /** 0: no top-k (also when the request's top_k is at least the vocabulary). */
  private final int topK;
  private final boolean topP;
  private final SplittableRandom random;
  /** The tokens chosen so far; null when the request has no penalties (nothing needs them). */
  private final TokenCounts generated;

  /**
   * @param vocabSize how many logits one position has (the width of the model's output)
   * @throws IllegalArgumentException {@code params} fail {@link SamplingParams#validate}
   */
  public Sampler(SamplingParams params, int vocabSize) {
    if (vocabSize < 1) {
      throw new IllegalArgumentException("vocabulary size must be positive, got " + vocabSize);
    }
    params.validate(vocabSize);
    this.params = params;
    this.vocabSize = vocabSize;
    this.topK = params.topK() >= vocabSize ? 0 : params.topK();
    this.topP = params.topP() < 1f;
    this.random = params.seed() == null ? new SplittableRandom() : new SplittableRandom(params.seed());
    this.generated = params.presencePenalty() != 0f || params.frequencyPenalty() != 0f ? new TokenCounts() : null;
  }

  public int vocabSize() {
    return vocabSize;
  }

  /**
   * Chooses the next token from {@code logits[offset, offset + vocabSize)}, the model's raw logits
   * for the position, and remembers it for the penalties of later calls.
   */
  public Sample next(float[] logits, int offset) {
    Objects.checkFromIndexSize(offset, vocabSize, logits.length);
    float[] values = logits;
    int base = offset;
    if (generated != null && !generated.isEmpty()) {
      values = penalized(logits, offset);
      base = 0;
    }
    int token = params.greedy() ? argmax(values, base, vocabSize) : draw(values, base);
    TokenLogprobs logprobs = params.logprobs() == null ? null : logprobs(logits, offset, vocabSize, token, params.logprobs());
    if (generated != null) {
      generated.add(token);
    }
    return new Sample(token, logprobs);
  }

  /** A scratch copy of the logits less the penalties: presence once, frequency per occurrence. */
  private float[] penalized(float[] logits, int offset) {
    float[] values = SCRATCH.get().values(vocabSize);
    System.arraycopy(logits, offset, values, 0, vocabSize);
    float presence = params.presencePenalty();
    float frequency = params.frequencyPenalty();
    generated.forEach((token, count) -> values[token] -= presence + frequency * count);
    return values;
  }

  /** The first maximum (ties to the lower id); NaN never wins, and all -inf gives token 0. */
  static int argmax(float[] values, int base, int n) {
    int best = 0;
    float max = Float.NEGATIVE_INFINITY;
    for (int i = 0; i < n; i++) {
      float v = values[base + i];
      if (v > max) {
        max = v;
        best = i;
      }
    }
    return best;
  }

  private int draw(float[] values, int base) {
    float max = Float.NEGATIVE_INFINITY;
    for (int i = 0; i < vocabSize; i++) {
      if (values[base + i] > max) { // NaN never counts
        max = values[base + i];
      }
    }
    if (Float.isInfinite(max)) {
      // All -inf (nothing to draw from) or a +inf logit (certain): no distribution to sample.
      return argmax(values, base, vocabSize);
    }
    Scratch scratch = SCRATCH.get();
    float[] weights = scratch.values(vocabSize); // may be `values` itself: each index is read before written
    float invTemperature = 1f / params.temperature();
    double total = 0;
    for (int i = 0; i < vocabSize; i++) {
      float w = expNonPositive((values[base + i] - max) * invTemperature);
      weights[i] = w;
      total += w;
    }
    if (topK == 0 && !topP) {
      double target = random.nextDouble() * total;
      double cumulative = 0;
      int last = 0;
      for (int i = 0; i < vocabSize; i++) {
        float w = weights[i];
        if (w > 0f) {
          cumulative += w;
          last = i;
          if (cumulative > target) {
            return i;
          }
        }
      }
      return last; // rounding: target at the very top
    }
    int kept = keep(weights, total, scratch);
    long[] keys = scratch.keys;
    double target = random.nextDouble() * sum(weights, keys, kept);
    double cumulative = 0;
    for (int j = 0; j < kept; j++) {
      cumulative += weights[(int) keys[j]];
      if (cumulative > target) {
        return (int) keys[j];
      }
    }
    return (int) keys[0];
  }

  /**
   * e^x for x <= 0 within 4e-6 relative (0 below -87.3, where floats end, and for NaN): the
   * sampling weights. Plain float arithmetic, so the same on every JVM and machine, and about twice
   * as fast as {@link Math#exp}, which dominated sampling at a 129k vocabulary.
   */
  static float expNonPositive(float x) {
    float t = Math.max(x * LOG2E, -126f);
    float n = (float) Math.floor(t + 0.5f);
    float f = t - n; // [-0.5, 0.5]: 2^f by its Taylor series to f^6
    float p = 1f + f * (0.6931472f + f * (0.2402265f + f * (0.05550411f + f * (0.009618129f
        + f * (0.001333355f + f * 0.0001540353f)))));
    float w = Float.intBitsToFloat(((int) n + 127) << 23) * p;
    return x >= -87.3f ? w : 0f;
  }

  /**
   * Applies top-k, then top-p to what top-k kept (renormalised, as vLLM and transformers do).
   * Leaves the kept tokens, most likely first (ties to the lower id), as the low 32 bits of {@code
   * scratch.keys[0, result)}.
   */
  int keep(float[] weights, double total, Scratch scratch) {
    int[] counts = scratch.counts;
    double[] mass = scratch.mass;
    Arrays.fill(counts, 0);
    Arrays.fill(mass, 0);
    for (int i = 0; i < vocabSize; i++) {
      int b = Math.min(Float.floatToRawIntBits(weights[i]) >>> 20, TOP_BUCKET);
      counts[b]++;
      mass[b] += weights[i];
    }
    // The lowest bucket that the kept set can reach: top-k's k-th token, or top-p's mass.
    double topPMass = params.topP() * total;
    int bucket = TOP_BUCKET;
    long count = 0;
    double cumulative = 0;
    for (; bucket > 0; bucket--) {
      count += counts[bucket];
      cumulative += mass[bucket];
      if (topK > 0 ? count >= topK : cumulative >= topPMass) {
        break;
      }
    }
    long[] keys = scratch.keys(vocabSize);
    int n = 0;
    for (int i = 0; i < vocabSize; i++) {
      int bits = Float.floatToRawIntBits(weights[i]);
      if (Math.min(bits >>> 20, TOP_BUCKET) >= bucket) {
        // Ascending keys: larger weights first, then lower ids.
        keys[n++] = (long) (0x7FFFFFFF - bits) << 32 | i;
      }
    }
    Arrays.sort(keys, 0, n);
    int kept = topK > 0 ? Math.min(topK, n) : n;
    if (topP) {
      double target = params.topP() * (topK > 0 ? sum(weights, keys, kept) : total);
      double sum = 0;
      for (int j = 0; j < kept; j++) {
        sum += weights[(int) keys[j]];
        if (sum >= target) {
          kept = j + 1;
          break;
        }
      }
    }
    return Math.max(kept, 1);
  }

  /** The weights of the first {@code n} tokens of {@code keys}, in their order. */
  private static double sum(float[] weights, long[] keys, int n) {
    double sum = 0;
    for (int j = 0; j < n; j++) {
      sum += weights[(int) keys[j]];
    }
    return sum;
  }

  /**
   * The chosen token's and the {@code top} most likely tokens' log-softmax of the raw logits, in
   * double (ties to the lower id).
   */
  static TokenLogprobs logprobs(float[] logits, int offset, int vocabSize, int token, int top) {
    double max = Double.NEGATIVE_INFINITY;
    for (int i = 0; i < vocabSize; i++) {
      if (logits[offset + i] > max) {
        max = logits[offset + i];
      }
    }
    double sum = 0;
    for (int i = 0; i < vocabSize; i++) {
      float v = logits[offset + i];
      sum += v == v ? Math.exp(v - max) : 0; // NaN: no probability
    }
    double logZ = max + Math.log(sum);
    int[] topTokens = new int[Math.min(top, vocabSize)];
    float[] topValues = new float[topTokens.length];
    int n = 0;
    for (int i = 0; i < vocabSize && topTokens.length > 0; i++) {
      float v = logits[offset + i];
      int j;
      if (v != v) {
        continue; // NaN
      } else if (n < topTokens.length) {
        j = n++;
      } else if (v > topValues[n - 1]) {
        j = n - 1;
      } else {
        continue;
      }
      // Insert after every value >= v, so that lower ids win ties.
      while (j > 0 && topValues[j - 1] < v) {
        topValues[j] = topValues[j - 1];
        topTokens[j] = topTokens[j - 1];
        j--;
      }
      topValues[j] = v;
      topTokens[j] = i;
    }
    float[] topLogprobs = new float[n];
    for (int j = 0; j < n; j++) {
      topLogprobs[j] = (float) (topValues[j] - logZ);
    }
    return new TokenLogprobs(token, (float) (logits[offset + token] - logZ),
        n == topTokens.length ? topTokens : Arrays.copyOf(topTokens, n), topLogprobs);
  }

  /** Per-thread buffers: a vocabulary's weights and sort keys, and the histogram. */
  static final class Scratch {
    private float[] values = new float[0];
    /** After {@link #keep}: the kept tokens in their low 32 bits. */
    long[] keys = new long[0];
    final int[] counts = new int[TOP_BUCKET + 1];
    final double[] mass = new double[TOP_BUCKET + 1];

    float[] values(int n) {
      if (values.length < n) {
        values = new float[n];
      }
      return values;
    }

    long[] keys(int n) {
      if (keys.length < n) {
        keys = new long[n];
      }
      return keys;
    }
  }
}

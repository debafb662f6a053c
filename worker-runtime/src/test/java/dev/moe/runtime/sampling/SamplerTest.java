package dev.moe.runtime.sampling;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class SamplerTest {

  /** Natural logs of 0.1, 0.2, 0.3, 0.4 (plus any constant): a distribution to check draws against. */
  static final float[] TENTHS = logs(0.1, 0.2, 0.3, 0.4);

  static SamplingParams params(float temperature, float topP, int topK, Long seed) {
    return new SamplingParams(temperature, topP, topK, seed, 16, null, false, null, 0f, 0f);
  }

  static SamplingParams penalties(float temperature, float presence, float frequency, Long seed) {
    return new SamplingParams(temperature, 1f, 0, seed, 16, null, false, null, presence, frequency);
  }

  static SamplingParams logprobs(float temperature, int top) {
    return new SamplingParams(temperature, 1f, 0, 1L, 16, null, false, top, 0.5f, 0.5f);
  }

  static float[] logs(double... probabilities) {
    float[] l = new float[probabilities.length];
    for (int i = 0; i < l.length; i++) {
      l[i] = (float) Math.log(probabilities[i]) + 3f; // logits are unnormalised
    }
    return l;
  }

  @Test
  void greedyTakesTheArgmaxWithTiesToTheLowerId() {
    float[] logits = {9, 9, 9, 1, 3, 3, 2, 7};
    Sampler sampler = new Sampler(params(0f, 1f, 0, null), 4);
    assertEquals(1, sampler.next(logits, 3).token()); // [1, 3, 3, 2] at offset 3
    assertEquals(0, sampler.next(logits, 0).token());
    assertEquals(2, new Sampler(SamplingParams.greedy(4), 3).next(new float[] {Float.NaN, 2, 5}, 0).token());
    float[] allMasked = {Float.NEGATIVE_INFINITY, Float.NEGATIVE_INFINITY};
    assertEquals(0, new Sampler(SamplingParams.greedy(4), 2).next(allMasked, 0).token());
  }

  @Test
  void greedyIgnoresTopKTopPAndSeed() {
    float[] logits = {0, 5, 4.9f, 1};
    for (long seed = 0; seed < 5; seed++) {
      assertEquals(1, new Sampler(params(0f, 0.1f, 1, seed), 4).next(logits, 0).token());
    }
  }

  @Test
  void theCallersLogitsAreNotModified() {
    float[] logits = new float[64];
    Random r = new Random(3);
    for (int i = 0; i < logits.length; i++) {
      logits[i] = (float) r.nextGaussian();
    }
    float[] before = logits.clone();
    Sampler sampler = new Sampler(new SamplingParams(0.7f, 0.9f, 10, 5L, 16, null, false, 5, 0.5f, 0.3f), 32);
    for (int i = 0; i < 20; i++) {
      sampler.next(logits, 32);
      sampler.next(logits, 0);
    }
    assertArrayEquals(before, logits);
  }

  @Test
  void logprobsAreTheLogSoftmaxOfTheRawLogits() {
    // Penalties and temperature change the choice, never the reported log probabilities.
    for (float temperature : new float[] {0f, 0.5f, 2f}) {
      Sampler sampler = new Sampler(logprobs(temperature, 2), 4);
      for (int step = 0; step < 3; step++) {
        TokenLogprobs lp = sampler.next(TENTHS, 0).logprobs();
        assertEquals(Math.log(new double[] {0.1, 0.2, 0.3, 0.4}[lp.token()]), lp.logprob(), 1e-6);
        assertArrayEquals(new int[] {3, 2}, lp.topTokens());
        assertArrayEquals(new float[] {(float) Math.log(0.4), (float) Math.log(0.3)}, lp.topLogprobs(), 1e-6f);
      }
    }
    TokenLogprobs none = new Sampler(logprobs(0f, 0), 4).next(TENTHS, 0).logprobs();
    assertEquals(3, none.token());
    assertEquals(0, none.topTokens().length);
    assertEquals(0, none.topLogprobs().length);
    assertNull(new Sampler(SamplingParams.greedy(4), 4).next(TENTHS, 0).logprobs());
  }

  @Test
  void topLogprobsBreakTiesToTheLowerIdAndSkipNaN() {
    float[] logits = {1, 2, Float.NaN, 2, 0, 2};
    TokenLogprobs lp = new Sampler(logprobs(0f, 4), 6).next(logits, 0).logprobs();
    assertArrayEquals(new int[] {1, 3, 5, 0}, lp.topTokens());
    // Asking for more than the vocabulary gives the vocabulary, most likely first.
    float[] three = {0, 1, 2};
    TokenLogprobs all = new Sampler(new SamplingParams(0f, 1f, 0, null, 4, null, false, 5, 0f, 0f), 3)
        .next(three, 0).logprobs();
    assertArrayEquals(new int[] {2, 1, 0}, all.topTokens());
    double z = Math.log(1 + Math.E + Math.E * Math.E);
    assertArrayEquals(new float[] {(float) (2 - z), (float) (1 - z), (float) -z}, all.topLogprobs(), 1e-6f);
  }

  /** Draws {@code n} tokens, each from a fresh sampler (seeded 0..n-1) so that draws are independent. */
  static int[] histogram(SamplingParams base, float[] logits, int n) {
    int[] counts = new int[logits.length];
    for (long seed = 0; seed < n; seed++) {
      SamplingParams p = new SamplingParams(base.temperature(), base.topP(), base.topK(), seed * 7919 + 11,
          base.maxTokens(), null, false, null, 0f, 0f);
      counts[new Sampler(p, logits.length).next(logits, 0).token()]++;
    }
    return counts;
  }

  /**
   * Pearson's chi-square of observed counts against expected probabilities (zero-probability
   * tokens must not occur at all); asserted below the 0.1% critical value of its degrees of
   * freedom, so that a wrong distribution fails and these fixed seeds pass.
   */
  static void assertDistribution(double[] expected, int[] counts) {
    int n = Arrays.stream(counts).sum();
    double chi2 = 0;
    int dof = -1;
    for (int i = 0; i < expected.length; i++) {
      if (expected[i] == 0) {
        assertEquals(0, counts[i], "token " + i + " must never be drawn: " + Arrays.toString(counts));
        continue;
      }
      double e = expected[i] * n;
      chi2 += (counts[i] - e) * (counts[i] - e) / e;
      dof++;
    }
    double[] critical = {0, 10.83, 13.82, 16.27, 18.47}; // p = 0.001 for 0..4 degrees of freedom
    assertTrue(dof == 0 || chi2 < critical[dof], "chi-square " + chi2 + " (" + dof + " dof) for " + Arrays.toString(counts)
        + " against " + Arrays.toString(expected));
  }

  @Test
  void temperatureOneDrawsFromTheSoftmax() {
    assertDistribution(new double[] {0.1, 0.2, 0.3, 0.4}, histogram(params(1f, 1f, 0, null), TENTHS, 20_000));
  }

  @Test
  void temperatureSharpensAndFlattens() {
    float[] logits = {0f, 1f};
    double sharp = Math.exp(2) / (1 + Math.exp(2)); // T = 0.5: logits doubled
    assertDistribution(new double[] {1 - sharp, sharp}, histogram(params(0.5f, 1f, 0, null), logits, 10_000));
    double flat = Math.exp(0.5) / (1 + Math.exp(0.5)); // T = 2: halved
    assertDistribution(new double[] {1 - flat, flat}, histogram(params(2f, 1f, 0, null), logits, 10_000));
  }

  @Test
  void topKKeepsTheKMostLikely() {
    assertDistribution(new double[] {0, 0, 3 / 7.0, 4 / 7.0}, histogram(params(1f, 1f, 2, null), TENTHS, 10_000));
    assertDistribution(new double[] {0, 0, 0, 1}, histogram(params(1f, 1f, 1, null), TENTHS, 200));
  }

  @Test
  void topPKeepsTheSmallestSetReachingIt() {
    // Sorted 0.4, 0.3, 0.2, 0.1; cumulative 0.4, 0.7, 0.9, 1.0.
    assertDistribution(new double[] {0, 0, 0, 1}, histogram(params(1f, 0.35f, 0, null), TENTHS, 200));
    assertDistribution(new double[] {0, 0, 3 / 7.0, 4 / 7.0}, histogram(params(1f, 0.5f, 0, null), TENTHS, 10_000));
    assertDistribution(new double[] {0, 2 / 9.0, 3 / 9.0, 4 / 9.0},
        histogram(params(1f, 0.75f, 0, null), TENTHS, 10_000));
  }

  @Test
  void topPAppliesToWhatTopKKept() {
    // Top-k 3 renormalises to 4/9, 3/9, 2/9 (cumulative 0.44, 0.78): top-p 0.75 then keeps two.
    assertDistribution(new double[] {0, 0, 3 / 7.0, 4 / 7.0}, histogram(params(1f, 0.75f, 3, null), TENTHS, 10_000));
  }

  @Test
  void theSameSeedGivesTheSameTokensWhateverRunsBeside() {
    int vocab = 1000;
    float[] logits = new float[vocab];
    Random r = new Random(11);
    for (int i = 0; i < vocab; i++) {
      logits[i] = (float) r.nextGaussian();
    }
    SamplingParams p = new SamplingParams(1f, 0.95f, 0, 1234L, 64, null, false, null, 0.2f, 0.1f);
    Sampler alone = new Sampler(p, vocab);
    Sampler paired = new Sampler(p, vocab);
    Sampler other = new Sampler(new SamplingParams(1f, 1f, 0, 1234L, 64, null, false, 3, 0f, 0f), vocab);
    Sampler unseeded = new Sampler(new SamplingParams(1f, 0.95f, 0, null, 64, null, false, null, 0.2f, 0.1f), vocab);
    List<Integer> a = new ArrayList<>();
    List<Integer> b = new ArrayList<>();
    for (int i = 0; i < 50; i++) {
      a.add(alone.next(logits, 0).token());
      other.next(logits, 0);
      unseeded.next(logits, 0);
      b.add(paired.next(logits, 0).token());
    }
    assertEquals(a, b);
    Sampler reseeded = new Sampler(new SamplingParams(1f, 0.95f, 0, 1235L, 64, null, false, null, 0.2f, 0.1f), vocab);
    List<Integer> c = new ArrayList<>();
    for (int i = 0; i < 50; i++) {
      c.add(reseeded.next(logits, 0).token());
    }
    assertNotEquals(a, c);
  }

  @Test
  void penaltiesCountTheTokensThisSamplerChose() {
    // Frequency: equal logits alternate, the lower id first.
    Sampler frequency = new Sampler(penalties(0f, 0f, 1f, null), 2);
    float[] equal = {0f, 0f};
    int[] tokens = IntStream.range(0, 6).map(i -> frequency.next(equal, 0).token()).toArray();
    assertArrayEquals(new int[] {0, 1, 0, 1, 0, 1}, tokens);
    // Presence: once per token, however often it came: 0 (1 -> -1), then 1 (0.5 -> -1.5), then 2, then 0 for good.
    Sampler presence = new Sampler(penalties(0f, 2f, 0f, null), 3);
    float[] falling = {1f, 0.5f, 0f};
    assertArrayEquals(new int[] {0, 1, 2, 0, 0, 0},
        IntStream.range(0, 6).map(i -> presence.next(falling, 0).token()).toArray());
    // Negative penalties favour repeats.
    Sampler repeat = new Sampler(penalties(0f, -1f, -1f, null), 3);
    float[] close = {1f, 1.5f, 0f};
    assertArrayEquals(new int[] {1, 1, 1}, IntStream.range(0, 3).map(i -> repeat.next(close, 0).token()).toArray());
  }

  @Test
  void frequencyPenaltyShiftsTheDistribution() {
    // Two equal logits; after the first draw, a penalty of ln 3 makes a repeat 1/4 likely.
    float[] equal = {0f, 0f};
    int repeats = 0;
    int n = 10_000;
    for (long seed = 0; seed < n; seed++) {
      Sampler s = new Sampler(penalties(1f, 0f, (float) Math.log(3), seed), 2);
      int first = s.next(equal, 0).token();
      repeats += s.next(equal, 0).token() == first ? 1 : 0;
    }
    assertDistribution(new double[] {0.25, 0.75}, new int[] {repeats, n - repeats});
  }

  /** The kept set by a full sort: top-k, then top-p over what top-k kept. */
  static int[] reference(float[] weights, int topK, float topP) {
    Integer[] order = IntStream.range(0, weights.length).boxed().toArray(Integer[]::new);
    Arrays.sort(order, Comparator.<Integer>comparingDouble(i -> -weights[i]).thenComparingInt(i -> i));
    int kept = topK > 0 ? Math.min(topK, order.length) : order.length;
    if (topP < 1f) {
      double total = 0;
      for (int j = 0; j < kept; j++) {
        total += weights[order[j]];
      }
      double sum = 0;
      for (int j = 0; j < kept; j++) {
        sum += weights[order[j]];
        if (sum >= topP * total) {
          kept = j + 1;
          break;
        }
      }
    }
    return Arrays.stream(order, 0, kept).mapToInt(Integer::intValue).toArray();
  }

  @Test
  void keptSetsAtDeepSeekVocabularyEqualAFullSort() {
    int vocab = 129_280;
    Random r = new Random(5);
    float[] peaked = new float[vocab];
    float[] flat = new float[vocab];
    float[] ties = new float[vocab];
    for (int i = 0; i < vocab; i++) {
      peaked[i] = (float) (r.nextGaussian() * 4);
      flat[i] = (float) (r.nextGaussian() * 0.01);
      ties[i] = i % 7 == 0 ? 0f : -(i % 5);
    }
    int[][] cases = {{0, 90}, {0, 50}, {50, 100}, {1, 100}, {40, 95}, {5000, 80}, {0, 99}};
    for (float[] logits : List.of(peaked, flat, ties)) {
      float max = Float.NEGATIVE_INFINITY;
      for (float v : logits) {
        max = Math.max(max, v);
      }
      float[] weights = new float[vocab];
      double total = 0;
      for (int i = 0; i < vocab; i++) {
        weights[i] = (float) Math.exp((double) logits[i] - max);
        total += weights[i];
      }
      for (int[] c : cases) {
        float topP = c[1] / 100f;
        Sampler sampler = new Sampler(params(1f, topP, c[0], 1L), vocab);
        Sampler.Scratch scratch = new Sampler.Scratch();
        int kept = sampler.keep(weights, total, scratch);
        int[] got = new int[kept];
        for (int j = 0; j < kept; j++) {
          got[j] = (int) scratch.keys[j];
        }
        assertArrayEquals(reference(weights, c[0], topP), got, "top_k " + c[0] + ", top_p " + topP);
      }
    }
  }

  @Test
  void drawsStayInsideTheKeptSet() {
    int vocab = 129_280;
    Random r = new Random(9);
    float[] logits = new float[vocab];
    for (int i = 0; i < vocab; i++) {
      logits[i] = (float) r.nextGaussian();
    }
    int[] top5 = IntStream.range(0, vocab).boxed()
        .sorted(Comparator.<Integer>comparingDouble(i -> -logits[i])).limit(5).mapToInt(Integer::intValue).toArray();
    Sampler sampler = new Sampler(params(1.5f, 1f, 5, 77L), vocab);
    for (int i = 0; i < 200; i++) {
      int t = sampler.next(logits, 0).token();
      assertTrue(Arrays.stream(top5).anyMatch(x -> x == t), "token " + t + " is not among the top 5");
    }
  }

  @Test
  void samplingWeightsAreExponentialsWithin4e6() {
    assertEquals(1f, Sampler.expNonPositive(0f));
    assertEquals(0f, Sampler.expNonPositive(Float.NEGATIVE_INFINITY));
    assertEquals(0f, Sampler.expNonPositive(Float.NaN));
    assertEquals(0f, Sampler.expNonPositive(-88f));
    for (float x = 0f; x > -87.3f; x -= 0.0137f) {
      double e = Math.exp(x);
      assertEquals(e, Sampler.expNonPositive(x), 4e-6 * e, "x = " + x);
      assertTrue(Sampler.expNonPositive(x) <= 1f);
    }
  }

  @Test
  void invalidParametersAreRefused() {
    assertThrows(IllegalArgumentException.class, () -> new Sampler(params(-1f, 1f, 0, null), 4));
    assertThrows(IllegalArgumentException.class, () -> new Sampler(params(1f, 0f, 0, null), 4));
    assertThrows(IllegalArgumentException.class, () -> new Sampler(params(1f, 1f, 0, null), 0));
    assertThrows(IndexOutOfBoundsException.class, () -> new Sampler(params(1f, 1f, 0, null), 4).next(new float[6], 3));
  }
}

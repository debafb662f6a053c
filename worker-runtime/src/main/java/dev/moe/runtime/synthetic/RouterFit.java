package dev.moe.runtime.synthetic;

import dev.moe.runtime.model.Architecture;
import dev.moe.runtime.model.TensorNames;
import dev.moe.runtime.nativelib.Kernels;
import dev.moe.runtime.tensor.SafetensorsWriter;
import dev.moe.stats.RoutingStats;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.SplittableRandom;
import java.util.stream.IntStream;

/**
 * The synthetic checkpoint's routers and their fit. Row e of a layer's router is {@code (a_e, b_e,
 * r_e)}: against the kind coordinates, the offsets that set expert e's share of each kind's
 * tokens; against a token's own vector, a random {@code r_e}. The offsets are calibrated by
 * log-ratio steps ({@code a_e += rate * ln(target_e / measured_e) / kind coordinate}) on the router
 * inputs that the model's forward pass on a worker produced for each kind's tokens, the selection
 * made by the runtime's own kernel (grouped sigmoid top-k with the correction bias); then the
 * model runs again with the new routers, since the experts they choose change what later layers
 * see, and so on for a few rounds.
 */
final class RouterFit {

  /** Rounds of (run the model, calibrate on what its routers saw); one more run measures the fit. */
  private static final int ROUNDS = 2;
  private static final int FIRST_STEPS = 25;
  private static final int LATER_STEPS = 10;
  private static final double RATE = 0.8;
  /** Largest log-ratio one step takes, so that an expert no token chose yet moves by steps. */
  private static final double MAX_STEP = 1;
  /** Spread of the random part of router rows: a kind's tokens reach many experts, not the same 8. */
  private static final double ROUTER_SPREAD = 0.65;
  private static final double BIAS_SPREAD = 0.01;
  /** Calibration prompts per kind, which together hold each of its words once. */
  private static final int SEQUENCES = 8;

  private static final int LAYERS = SyntheticCheckpoint.LAYERS;
  private static final int EXPERTS = SyntheticCheckpoint.EXPERTS;
  private static final int HIDDEN = SyntheticCheckpoint.HIDDEN;
  private static final int KINDS = PromptKind.values().length;

  private final Map<PromptKind, RoutingStats> targets;
  /** [kind][layer][expert]: the share of the kind's tokens that choose the expert (summing to top-k). */
  private final double[][][] share = new double[KINDS][LAYERS][];
  /** [layer]: the router {@code [experts, hidden]}; null for a dense layer. */
  private final float[][] weight = new float[LAYERS][];
  private final float[][] bias = new float[LAYERS][];
  private final SplittableRandom random;

  RouterFit(RoutingStats decode, RoutingStats prefill, long seed) {
    this.targets = Map.of(PromptKind.DECODE, Objects.requireNonNull(decode, "decode statistics"),
        PromptKind.PREFILL, Objects.requireNonNull(prefill, "prefill statistics"));
    this.random = new SplittableRandom(seed ^ 0x5DEECE66DL);
    for (PromptKind kind : PromptKind.values()) {
      RoutingStats s = targets.get(kind);
      check(s, kind);
      for (int l = SyntheticCheckpoint.FIRST_DENSE; l < LAYERS; l++) {
        double[] load = s.load(l);
        double total = 0;
        for (double c : load) {
          total += c;
        }
        share[kind.ordinal()][l] = new double[EXPERTS];
        for (int e = 0; e < EXPERTS; e++) {
          share[kind.ordinal()][l][e] = load[e] / total * SyntheticCheckpoint.TOP_K;
        }
      }
    }
    for (int l = SyntheticCheckpoint.FIRST_DENSE; l < LAYERS; l++) {
      weight[l] = SyntheticCheckpoint.gaussian(random, EXPERTS * HIDDEN, ROUTER_SPREAD);
      for (int e = 0; e < EXPERTS; e++) {
        for (int k = 0; k < SyntheticCheckpoint.FIRST_FREE; k++) {
          weight[l][e * HIDDEN + k] = 0;
        }
      }
      bias[l] = SyntheticCheckpoint.gaussian(random, EXPERTS, BIAS_SPREAD);
    }
  }

  /** Statistics in DeepSeek-V3's shape: its layers and experts, counts in exactly its MoE layers. */
  private static void check(RoutingStats s, PromptKind kind) {
    String what = "the " + kind.name().toLowerCase() + " statistics";
    if (s.layers() != LAYERS || s.experts() != EXPERTS) {
      throw new IllegalArgumentException(what + " have " + s.layers() + " layers x " + s.experts()
          + " experts; DeepSeek-V3 has " + LAYERS + " x " + EXPERTS);
    }
    for (int l = 0; l < LAYERS; l++) {
      boolean dense = l < SyntheticCheckpoint.FIRST_DENSE;
      if (s.isDense(l) != dense) {
        throw new IllegalArgumentException(what + (dense ? " count routing in layer " : " count no routing in layer ")
            + l + "; DeepSeek-V3's layers 0.." + (SyntheticCheckpoint.FIRST_DENSE - 1) + " are dense, the others MoE");
      }
    }
  }

  /** The tensors of the routers' shard. */
  static List<String> tensorNames() {
    TensorNames names = TensorNames.of(Architecture.DEEPSEEK_V3);
    List<String> all = new ArrayList<>();
    for (int l = SyntheticCheckpoint.FIRST_DENSE; l < LAYERS; l++) {
      all.add(names.router(l));
      all.add(names.routerBias(l));
    }
    return all;
  }

  /** The bytes of the routers' shard's tensors. */
  static long tensorBytes() {
    return (long) (LAYERS - SyntheticCheckpoint.FIRST_DENSE) * (EXPERTS * HIDDEN + EXPERTS) * Float.BYTES;
  }

  /**
   * Fits the routers of the checkpoint in {@code dir} (everything else written already), writing
   * them into its routers' shard; returns the fit measured with the final routers.
   */
  RoutingFit fit(Path dir, SyntheticTokenizer tokenizer) {
    int[][][] prompts = new int[KINDS][][];
    int blocks = 0;
    for (PromptKind kind : PromptKind.values()) {
      prompts[kind.ordinal()] = calibrationPrompts(kind, tokenizer);
      blocks = Math.max(blocks, RoutingProbe.blocks(prompts[kind.ordinal()]));
    }
    for (int round = 0; ; round++) {
      write(dir.resolve(SyntheticCheckpoint.ROUTERS));
      RoutingProbe.Run[] runs = new RoutingProbe.Run[KINDS];
      try (RoutingProbe probe = RoutingProbe.open(dir, blocks)) {
        for (int k = 0; k < KINDS; k++) {
          runs[k] = probe.run(prompts[k]);
        }
      }
      if (round == ROUNDS) {
        return new RoutingFit(Map.of(PromptKind.DECODE, runs[0].counts(), PromptKind.PREFILL, runs[1].counts()),
            targets);
      }
      int steps = round == 0 ? FIRST_STEPS : LATER_STEPS;
      IntStream.range(SyntheticCheckpoint.FIRST_DENSE, LAYERS).parallel().forEach(l -> calibrate(l, runs, steps));
    }
  }

  /**
   * Chat prompts that hold each word of {@code kind} once, in a random order: begin of sequence,
   * the user tag, the words, the assistant tag, as the chat template makes them.
   */
  private int[][] calibrationPrompts(PromptKind kind, SyntheticTokenizer tokenizer) {
    int[] order = SyntheticCheckpoint.permutation(PromptKind.WORDS, random);
    int[][] prompts = new int[SEQUENCES][];
    int per = PromptKind.WORDS / SEQUENCES;
    for (int s = 0; s < SEQUENCES; s++) {
      int[] p = new int[per + 3];
      p[0] = tokenizer.bos();
      p[1] = tokenizer.user();
      for (int i = 0; i < per; i++) {
        p[2 + i] = tokenizer.word(kind, order[s * per + i]);
      }
      p[per + 2] = tokenizer.assistant();
      prompts[s] = p;
    }
    return prompts;
  }

  /** Calibrates layer {@code layer}'s offsets on the router inputs of {@code runs}, one per kind. */
  private void calibrate(int layer, RoutingProbe.Run[] runs, int steps) {
    float[] w = weight[layer];
    int free = SyntheticCheckpoint.FIRST_FREE;
    float[][] fixed = new float[KINDS][];
    float[][][] coordinate = new float[KINDS][free][];
    double[] meanOwnKind = new double[KINDS];
    for (int k = 0; k < KINDS; k++) {
      float[] h = runs[k].routerInputs()[layer];
      int n = h.length / HIDDEN;
      fixed[k] = new float[n * EXPERTS];
      for (int t = 0; t < n; t++) {
        for (int e = 0; e < EXPERTS; e++) {
          float sum = 0;
          for (int i = free; i < HIDDEN; i++) {
            sum += h[t * HIDDEN + i] * w[e * HIDDEN + i];
          }
          fixed[k][t * EXPERTS + e] = sum;
        }
      }
      for (int j = 0; j < free; j++) {
        coordinate[k][j] = new float[n];
        for (int t = 0; t < n; t++) {
          coordinate[k][j][t] = h[t * HIDDEN + j];
        }
      }
      for (int t = 0; t < n; t++) {
        meanOwnKind[k] += coordinate[k][k][t] / n;
      }
    }
    for (int step = 0; step < steps; step++) {
      for (int k = 0; k < KINDS; k++) {
        double[] measured = selected(layer, fixed[k], coordinate[k]);
        int n = coordinate[k][k].length;
        double floor = 0.5 / n;
        double mean = 0;
        for (int e = 0; e < EXPERTS; e++) {
          double ratio = Math.log((share[k][layer][e] + floor) / (measured[e] + floor));
          double delta = RATE * Math.max(-MAX_STEP, Math.min(MAX_STEP, ratio)) / meanOwnKind[k];
          w[e * HIDDEN + k] += (float) delta;
          mean += w[e * HIDDEN + k];
        }
        // Only differences between experts matter; centred, the logits stay where sigmoid is steep.
        mean /= EXPERTS;
        for (int e = 0; e < EXPERTS; e++) {
          w[e * HIDDEN + k] -= (float) mean;
        }
      }
    }
  }

  /** The share of tokens that choose each expert, with the current offsets. */
  private double[] selected(int layer, float[] fixed, float[][] coordinate) {
    float[] w = weight[layer];
    int n = coordinate[0].length;
    float[] logits = fixed.clone();
    for (int t = 0; t < n; t++) {
      for (int e = 0; e < EXPERTS; e++) {
        float sum = 0;
        for (int j = 0; j < coordinate.length; j++) {
          sum += coordinate[j][t] * w[e * HIDDEN + j];
        }
        logits[t * EXPERTS + e] += sum;
      }
    }
    int k = SyntheticCheckpoint.TOP_K;
    int[] ids = new int[n * k];
    Kernels.sigmoidGroupTopk(logits, bias[layer], n, EXPERTS, SyntheticCheckpoint.GROUPS,
        SyntheticCheckpoint.TOPK_GROUPS, k, true, SyntheticCheckpoint.ROUTED_SCALING, ids, new float[n * k]);
    double[] chosen = new double[EXPERTS];
    for (int id : ids) {
      chosen[id] += 1.0 / n;
    }
    return chosen;
  }

  /** Writes the routers' shard. */
  private void write(Path file) {
    TensorNames names = TensorNames.of(Architecture.DEEPSEEK_V3);
    SafetensorsWriter out = new SafetensorsWriter().metadata("format", "pt");
    for (int l = SyntheticCheckpoint.FIRST_DENSE; l < LAYERS; l++) {
      out.add(names.router(l), weight[l], EXPERTS, HIDDEN);
      out.add(names.routerBias(l), bias[l], EXPERTS);
    }
    out.write(file);
  }
}

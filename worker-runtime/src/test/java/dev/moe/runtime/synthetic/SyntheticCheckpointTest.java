package dev.moe.runtime.synthetic;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moe.placement.ClusterSpec;
import dev.moe.placement.Placement;
import dev.moe.placement.PlacementEvaluator;
import dev.moe.placement.solve.PlacementSolver;
import dev.moe.placement.solve.SolverOptions;
import dev.moe.runtime.EngineTesting;
import dev.moe.runtime.cli.WorkerCli;
import dev.moe.runtime.model.Architecture;
import dev.moe.runtime.model.Checkpoint;
import dev.moe.runtime.model.MoeConfig;
import dev.moe.runtime.model.TensorNames;
import dev.moe.runtime.parallel.WorkerOptions;
import dev.moe.runtime.sampling.SamplingParams;
import dev.moe.runtime.scheduler.CollectingSink;
import dev.moe.runtime.scheduler.EngineGroup;
import dev.moe.runtime.scheduler.GenerationRequest;
import dev.moe.runtime.tokenizer.TextTokenizer;
import dev.moe.stats.RoutingStats;
import dev.moe.stats.RoutingStatsReader;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The synthetic DeepSeek-V3: written as transformers writes DeepSeek-V3, served by the runtime,
 * and routing each kind of prompt, through the workers' own forward pass, as SGLang measured
 * DeepSeek-V3's decode and prefill traffic.
 */
class SyntheticCheckpointTest {

  private static final Path DATA = Path.of("../data/routing/deepseek-v3-sglang");
  /** The demo's cluster: 8 one-GPU workers on one node, 36 slots per GPU. */
  private static final ClusterSpec CLUSTER = new ClusterSpec(8, 8, 36);

  @TempDir static Path dir;
  private static RoutingStats decode;
  private static RoutingStats prefill;
  private static RoutingFit written;

  @BeforeAll
  static void write() {
    decode = RoutingStatsReader.read(DATA.resolve("decode_in1000out1000.json"));
    prefill = RoutingStatsReader.read(DATA.resolve("prefill_in1000out1000.json"));
    long start = System.nanoTime();
    written = SyntheticCheckpoint.write(dir, decode, prefill, 1);
    System.out.printf(Locale.ROOT, "synthetic DeepSeek-V3 written and fitted in %.1f s; %s%n",
        (System.nanoTime() - start) / 1e9, written.summary());
  }

  @Test
  void readsBackAsDeepSeekV3WithItsTokenizerAndChatTemplate() {
    try (Checkpoint c = Checkpoint.open(dir); TextTokenizer tokenizer = TextTokenizer.load(dir)) {
      MoeConfig m = c.config();
      assertEquals(Architecture.DEEPSEEK_V3, m.architecture());
      assertEquals(61, m.numLayers());
      assertEquals(58, m.moeLayers().length);
      assertFalse(m.isMoeLayer(2));
      assertTrue(m.isMoeLayer(3) && m.isMoeLayer(60));
      assertEquals(256, m.numExperts());
      assertEquals(8, m.topK());
      assertEquals(8, m.nGroup());
      assertEquals(4, m.topkGroup());
      assertTrue(m.hasSharedExpert());
      assertEquals(32, m.hiddenSize());
      assertEquals(16, m.expertIntermediateSize());
      assertTrue(c.sharded());
      TensorNames names = c.names();
      for (String name : List.of(names.embedding(), names.lmHead(), names.finalNorm(), names.router(3),
          names.routerBias(60), names.expertDown(60, 255), names.sharedUp(3), names.denseMlp(2, "down_proj"),
          names.attention(0, "kv_a_proj_with_mqa", "weight"), names.attention(60, "q_b_proj", "weight"))) {
        assertTrue(c.contains(name), name);
      }
      assertEquals(tokenizer.size(), c.modelConfig().vocabSize());
      assertArrayEquals(new int[] {1}, c.modelConfig().eosTokenIds());

      for (PromptKind kind : PromptKind.values()) {
        for (int i = 0; i < PromptKind.WORDS; i += 97) {
          assertEquals(1, tokenizer.encode(" " + kind.word(i), false).length, "' " + kind.word(i) + "' is one token");
        }
        List<String> prompts = kind.prompts(3, 5, 9);
        assertEquals(prompts, kind.prompts(3, 5, 9), "the same seed, the same prompts");
        assertEquals(5, prompts.getFirst().split(" ").length);
        String text = tokenizer.chatTemplate().render(List.of(Map.of("role", "user", "content", prompts.getFirst())),
            true, Map.of());
        assertEquals("<｜begin▁of▁sentence｜><｜User｜>" + prompts.getFirst() + "<｜Assistant｜>", text);
      }
      assertNotEquals(PromptKind.DECODE.prompts(1, 5, 9), PromptKind.DECODE.prompts(1, 5, 10));
      assertThrows(IllegalArgumentException.class, () -> PromptKind.PREFILL.prompts(1, 0, 9));
    }
  }

  @Test
  void generateGoesOnInThePromptsKind() {
    for (PromptKind kind : PromptKind.values()) {
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      ByteArrayOutputStream err = new ByteArrayOutputStream();
      int code = WorkerCli.run(new String[] {"generate", "--checkpoint", dir.toString(), "--chat",
          "--prompt", kind.prompts(1, 12, 3).getFirst(), "--max-tokens", "16", "--workers", "2", "--backend", "cpu",
          "--kv-cache-tokens", "512"}, new PrintStream(out, true, StandardCharsets.UTF_8),
          new PrintStream(err, true, StandardCharsets.UTF_8));
      assertEquals(0, code, err.toString(StandardCharsets.UTF_8));
      String text = out.toString(StandardCharsets.UTF_8).strip();
      String letters = kind == PromptKind.DECODE ? "[a-z]" : "[A-Z]";
      assertTrue(text.matches(letters + "{4}( " + letters + "{4}){15}"), kind + ": " + text);
    }
  }

  @Test
  void refusesStatisticsOfAnotherShapeAndADirectoryInUse(@TempDir Path other) {
    RoutingStats mixtral = RoutingStats.ofCounts(new double[32][8]);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> SyntheticCheckpoint.write(other, mixtral, prefill, 1));
    assertEquals("the decode statistics have 32 layers x 8 experts; DeepSeek-V3 has 61 x 256", e.getMessage());
    double[][] counts = Arrays.stream(prefill.logicalCount()).map(double[]::clone).toArray(double[][]::new);
    counts[0][0] = 1;
    e = assertThrows(IllegalArgumentException.class,
        () -> SyntheticCheckpoint.write(other, decode, RoutingStats.ofCounts(counts), 1));
    assertTrue(e.getMessage().startsWith("the prefill statistics count routing in layer 0;"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> SyntheticCheckpoint.write(dir, decode, prefill, 1));
    assertTrue(e.getMessage().endsWith("is not empty; the synthetic checkpoint is written into an empty directory,"
        + " so that no other checkpoint's files mix with it"), e.getMessage());
  }

  /** The fit that writing measured, on prompts that hold every word of a kind once. */
  @Test
  void writingMeasuresAFitLayerByLayer() {
    for (PromptKind kind : PromptKind.values()) {
      assertTrue(written.worstCorrelation(kind) >= 0.95, written.summary());
    }
  }

  /**
   * Requests served by the engine (prompts through the chat template, sampled completions) are what
   * the workers count, and each kind's counts follow its target closely enough that a placement
   * solved for the decode kind's counts loses balance on the prefill kind's, as on SGLang's own.
   */
  @Test
  void servedRequestsAreCountedByTheWorkersAndRoutedAsTheirKindsTargets() throws Exception {
    Map<PromptKind, RoutingStats> served = new EnumMap<>(PromptKind.class);
    try (Checkpoint c = Checkpoint.open(dir); TextTokenizer tokenizer = TextTokenizer.load(dir);
        EngineGroup group = EngineGroup.start(2, c, null, WorkerOptions.defaults(), EngineTesting.options())) {
      for (PromptKind kind : PromptKind.values()) {
        List<CollectingSink> sinks = new ArrayList<>();
        long tokensRun = 0;
        int i = 0;
        for (String prompt : kind.prompts(32, 64, 5)) {
          String text = tokenizer.chatTemplate().render(List.of(Map.of("role", "user", "content", prompt)), true,
              Map.of());
          int[] ids = tokenizer.encode(text, false);
          CollectingSink sink = new CollectingSink();
          group.engine(i % 2).submit(new GenerationRequest("r" + i, ids,
              new SamplingParams(1f, 1f, 0, (long) i, 64, null, false, null, 0f, 0f)), sink);
          sinks.add(sink);
          // Every token but the last one generated runs through the model.
          tokensRun += ids.length + 64 - 1;
          i++;
        }
        for (CollectingSink sink : sinks) {
          assertEquals(64, EngineTesting.await(sink).length);
        }
        RoutingStats counted = sum(group.node(0).routingStats(true, false), group.node(1).routingStats(true, false));
        for (int l = 0; l < 61; l++) {
          double total = Arrays.stream(counted.logicalCount()[l]).sum();
          assertEquals(l < 3 ? 0 : tokensRun * 8, total, "layer " + l + ": every token's 8 choices, counted once");
        }
        served.put(kind, counted);
      }
    }
    RoutingFit fit = new RoutingFit(served, Map.of(PromptKind.DECODE, decode, PromptKind.PREFILL, prefill));
    System.out.println("served requests: " + fit.summary());
    for (PromptKind kind : PromptKind.values()) {
      assertTrue(fit.meanCorrelation(kind) >= 0.95, fit.summary());
      assertTrue(fit.worstCorrelation(kind) >= 0.9, fit.summary());
    }

    Shift sglang = Shift.of(decode, prefill);
    Shift model = Shift.of(served.get(PromptKind.DECODE), served.get(PromptKind.PREFILL));
    System.out.println("balancedness, SGLang's counts:      " + sglang);
    System.out.println("balancedness, the model's own routing: " + model);
    assertTrue(model.decodeOnDecode() >= 0.97, model.toString());
    assertTrue(model.prefillOnPrefill() >= 0.97, model.toString());
    assertTrue(model.decodeOnPrefill() <= model.decodeOnDecode() - 0.08, "the shift costs balance: " + model);
    assertTrue(model.prefillOnDecode() <= model.prefillOnPrefill() - 0.08, "the shift costs balance: " + model);
    assertEquals(sglang.decodeOnPrefill(), model.decodeOnPrefill(), 0.05, "as on SGLang's counts");
    assertEquals(sglang.prefillOnDecode(), model.prefillOnDecode(), 0.05, "as on SGLang's counts");
  }

  /** Balancedness of the placements solved for decode and for prefill traffic, on each. */
  private record Shift(double decodeOnDecode, double decodeOnPrefill, double prefillOnPrefill,
      double prefillOnDecode) {

    static Shift of(RoutingStats decode, RoutingStats prefill) {
      SolverOptions options = SolverOptions.defaults().withTimeLimit(Duration.ofSeconds(5));
      Placement forDecode = new PlacementSolver(options).solve(decode, CLUSTER, null);
      Placement forPrefill = new PlacementSolver(options).solve(prefill, CLUSTER, null);
      return new Shift(balancedness(decode, forDecode), balancedness(prefill, forDecode),
          balancedness(prefill, forPrefill), balancedness(decode, forPrefill));
    }

    private static double balancedness(RoutingStats traffic, Placement p) {
      return PlacementEvaluator.evaluate(traffic, CLUSTER, p, null, 0).balancedness();
    }

    @Override
    public String toString() {
      return String.format(Locale.ROOT, "decode-fitted placement %.3f on decode, %.3f on prefill;"
          + " prefill-fitted %.3f on prefill, %.3f on decode", decodeOnDecode, decodeOnPrefill, prefillOnPrefill,
          prefillOnDecode);
    }
  }

  private static RoutingStats sum(RoutingStats a, RoutingStats b) {
    double[][] c = new double[a.layers()][];
    for (int l = 0; l < c.length; l++) {
      c[l] = a.logicalCount()[l].clone();
      for (int e = 0; e < c[l].length; e++) {
        c[l][e] += b.logicalCount()[l][e];
      }
    }
    return RoutingStats.ofCounts(c);
  }
}

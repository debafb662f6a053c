package dev.moe.runtime.scheduler;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moe.runtime.EngineTesting;
import dev.moe.runtime.kvcache.BlockAllocator;
import dev.moe.runtime.sampling.Sampler;
import dev.moe.runtime.sampling.SamplingParams;
import dev.moe.runtime.stats.WorkerMetrics;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Continuous batching without a model: plans, chunking, admission by KV capacity, cancellation. */
class SchedulerTest {

  private static final int VOCAB = 16;
  private static final int EOS = 15;

  private static Scheduler scheduler(int blocks, int blockSize, int budget, int maxRunning, int maxWaiting) {
    return new Scheduler(new BlockAllocator(blocks), blockSize, 64, new Scheduler.Limits(budget, maxRunning, maxWaiting),
        new int[] {EOS}, null);
  }

  private static GenerationHandle submit(Scheduler s, String id, int promptLength, int maxTokens, CollectingSink sink) {
    int[] prompt = new int[promptLength];
    for (int i = 0; i < promptLength; i++) {
      prompt[i] = 1 + i % 10;
    }
    SamplingParams greedy = SamplingParams.greedy(maxTokens);
    return s.submit(new GenerationRequest(id, prompt, greedy), new Sampler(greedy, VOCAB), sink);
  }

  /** Logits whose argmax is {@code token} for every sampled row of the plan. */
  private static float[] logitsFor(Scheduler.Plan plan, int token) {
    float[] logits = new float[plan.logitRows().length * VOCAB];
    for (int i = 0; i < plan.logitRows().length; i++) {
      logits[i * VOCAB + token] = 1f;
    }
    return logits;
  }

  @Test
  void promptsAreChunkedWithinTheBudgetAndDecodesGoFirst() {
    Scheduler s = scheduler(64, 4, 8, 8, 8);
    CollectingSink a = new CollectingSink();
    CollectingSink b = new CollectingSink();
    submit(s, "a", 3, 4, a);
    submit(s, "b", 13, 4, b);

    Scheduler.Plan p1 = s.plan();
    // a's whole prompt (3) and the first 5 of b's 13 prompt tokens.
    assertArrayEquals(new int[] {3, 5}, p1.seqRows());
    assertArrayEquals(new int[] {0, 0}, p1.seqStart());
    assertEquals(1, p1.logitRows().length, "only a's prompt is complete");
    assertEquals(2, p1.logitRows()[0]);
    s.completed(p1, logitsFor(p1, 7), VOCAB);
    assertArrayEquals(new int[] {7}, a.tokens());

    Scheduler.Plan p2 = s.plan();
    // a decodes one token; b continues its prompt with the 7 left in the budget.
    assertEquals(2, p2.sequences().size());
    assertArrayEquals(new int[] {1, 7}, p2.seqRows());
    assertArrayEquals(new int[] {3, 5}, p2.seqStart());
    assertEquals(7, p2.tokens()[0], "a's decode row is its last token");
    s.completed(p2, logitsFor(p2, 8), VOCAB);
    assertArrayEquals(new int[] {7, 8}, a.tokens());
    assertTrue(b.count() == 0, "b's prompt is not complete yet");

    Scheduler.Plan p3 = s.plan();
    assertArrayEquals(new int[] {1, 1}, p3.seqRows(), "a decodes, b finishes its prompt");
    assertArrayEquals(new int[] {4, 12}, p3.seqStart());
    assertEquals(2, p3.logitRows().length);
  }

  @Test
  void aRequestWaitsUntilTheCacheHasItsBlocksAndMemoryNeverRunsOut() {
    // 6 blocks of 4 = 24 positions; each request needs prompt 6 + 6 tokens = 12 positions = 3 blocks.
    Scheduler s = scheduler(6, 4, 64, 8, 8);
    CollectingSink[] sinks = {new CollectingSink(), new CollectingSink(), new CollectingSink()};
    for (int i = 0; i < 3; i++) {
      submit(s, "r" + i, 6, 6, sinks[i]);
    }
    Scheduler.Plan p = s.plan();
    assertEquals(2, p.sequences().size(), "the third request waits for blocks");
    assertEquals(1, s.waitingCount());
    int steps = 0;
    while (s.hasWork()) {
      s.completed(p, logitsFor(p, 3), VOCAB);
      p = s.plan();
      assertTrue(++steps < 50);
    }
    for (CollectingSink r : sinks) {
      assertEquals(FinishReason.LENGTH, r.finish().getNow(null));
      assertEquals(6, r.count());
    }
  }

  @Test
  void publishesItsQueueAndCacheAsTheWorkersServingMetrics() {
    WorkerMetrics metrics = new WorkerMetrics(0, 1, 1.0);
    // 6 blocks of 4; each request holds 3 (prompt 6 + 6 tokens): two run, the third waits.
    Scheduler s = new Scheduler(new BlockAllocator(6), 4, 64, new Scheduler.Limits(64, 8, 8), new int[] {EOS},
        metrics);
    assertEquals(List.of(0.0, 0.0, 0.0, 6.0, 0.0), gauges(metrics), "the cache's size before any step");
    for (int i = 0; i < 3; i++) {
      submit(s, "r" + i, 6, 6, new CollectingSink());
    }
    // What a scrape shows after each step (published as the engine does), each change once.
    List<List<Double>> seen = new ArrayList<>();
    for (Scheduler.Plan p = s.plan(); !p.empty(); p = s.plan()) {
      s.completed(p, logitsFor(p, 3), VOCAB);
      s.publish();
      List<Double> now = gauges(metrics);
      if (seen.isEmpty() || !seen.getLast().equals(now)) {
        seen.add(now);
      }
    }
    assertEquals(List.of(
        List.of(1.0, 2.0, 6.0, 6.0, 1.0),   // two run with all six blocks, one waits
        List.of(1.0, 0.0, 0.0, 6.0, 0.0),   // the two are done; the third is admitted by the next step
        List.of(0.0, 1.0, 3.0, 6.0, 0.5),   // and runs alone
        List.of(0.0, 0.0, 0.0, 6.0, 0.0)), seen);
  }

  private static List<Double> gauges(WorkerMetrics metrics) {
    return EngineTesting.servingGauges(new String(metrics.scrape(), StandardCharsets.UTF_8));
  }

  @Test
  void eosStopsAndStopTokenIdsToo() {
    Scheduler s = scheduler(16, 4, 64, 8, 8);
    CollectingSink a = new CollectingSink();
    submit(s, "a", 2, 10, a);
    Scheduler.Plan p = s.plan();
    s.completed(p, logitsFor(p, EOS), VOCAB);
    assertEquals(FinishReason.STOP, a.finish().getNow(null));
    assertArrayEquals(new int[] {EOS}, a.tokens(), "the end-of-sequence token is part of the output");
    assertFalse(s.hasWork());

    CollectingSink b = new CollectingSink();
    SamplingParams withStop = new SamplingParams(0f, 1f, 0, null, 10, new int[] {5}, false, null, 0f, 0f);
    s.submit(new GenerationRequest("b", new int[] {1, 2}, withStop), new Sampler(withStop, VOCAB), b);
    p = s.plan();
    s.completed(p, logitsFor(p, 5), VOCAB);
    assertEquals(FinishReason.STOP, b.finish().getNow(null));
  }

  @Test
  void ignoreEosGoesOnToMaxTokens() {
    Scheduler s = scheduler(16, 4, 64, 8, 8);
    CollectingSink a = new CollectingSink();
    SamplingParams p0 = new SamplingParams(0f, 1f, 0, null, 3, null, true, null, 0f, 0f);
    s.submit(new GenerationRequest("a", new int[] {1}, p0), new Sampler(p0, VOCAB), a);
    for (int i = 0; i < 3; i++) {
      Scheduler.Plan p = s.plan();
      s.completed(p, logitsFor(p, EOS), VOCAB);
    }
    assertEquals(FinishReason.LENGTH, a.finish().getNow(null));
    assertEquals(3, a.count());
  }

  @Test
  void cancellationFreesTheBlocksAtTheNextStep() {
    Scheduler s = scheduler(3, 4, 64, 8, 8);
    CollectingSink a = new CollectingSink();
    CollectingSink b = new CollectingSink();
    GenerationHandle ha = submit(s, "a", 6, 6, a);
    submit(s, "b", 6, 6, b);
    Scheduler.Plan p = s.plan();
    assertEquals(1, p.sequences().size(), "b waits: a holds all three blocks");
    s.completed(p, logitsFor(p, 3), VOCAB);
    ha.cancel();
    p = s.plan();
    assertEquals(FinishReason.CANCELLED, a.finish().getNow(null));
    assertEquals(1, p.sequences().size());
    assertEquals("b", p.sequences().get(0).request.id(), "b is admitted in the same step");
  }

  @Test
  void aFailedStepIsRetriedThenFailsTheRequest() {
    Scheduler s = scheduler(8, 4, 64, 8, 8);
    CollectingSink a = new CollectingSink();
    submit(s, "a", 4, 4, a);
    Scheduler.Plan p = s.plan();
    s.failed(p, "peer lost");
    Scheduler.Plan again = s.plan();
    assertArrayEquals(p.tokens(), again.tokens(), "the same rows run again");
    assertArrayEquals(p.seqStart(), again.seqStart());
    for (int i = 1; i < Scheduler.MAX_FAILURES; i++) {
      s.failed(s.plan(), "peer lost");
    }
    assertEquals(FinishReason.ERROR, a.finish().getNow(null));
    assertEquals("peer lost", a.message());
    assertFalse(s.hasWork());
  }

  @Test
  void refusalsSayWhy() {
    Scheduler s = scheduler(4, 4, 64, 8, 1);
    EngineRejectedException tooLong = assertThrows(EngineRejectedException.class,
        () -> submit(s, "long", 64, 1, new CollectingSink()));
    assertEquals(EngineRejectedException.Kind.INVALID, tooLong.kind());
    assertTrue(tooLong.getMessage().contains("maximum context length is 64"), tooLong.getMessage());
    EngineRejectedException tooBig = assertThrows(EngineRejectedException.class,
        () -> submit(s, "big", 10, 10, new CollectingSink()));
    assertTrue(tooBig.getMessage().contains("more than this worker's cache of 16 tokens"), tooBig.getMessage());
    submit(s, "one", 2, 2, new CollectingSink());
    EngineRejectedException full = assertThrows(EngineRejectedException.class,
        () -> submit(s, "two", 2, 2, new CollectingSink()));
    assertEquals(EngineRejectedException.Kind.QUEUE_FULL, full.kind());
  }
}

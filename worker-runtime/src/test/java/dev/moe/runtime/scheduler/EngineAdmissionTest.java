package dev.moe.runtime.scheduler;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moe.runtime.EngineTesting;
import dev.moe.runtime.Fixtures;
import dev.moe.runtime.ModelExpectations;
import dev.moe.runtime.model.Checkpoint;
import dev.moe.runtime.parallel.WorkerOptions;
import dev.moe.runtime.sampling.SamplingParams;
import dev.moe.runtime.sampling.TokenLogprobs;
import dev.moe.runtime.tensor.DType;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * The engine on a real model with a small KV cache: requests that do not fit wait and then run
 * with the same outputs, a cancelled request ends at once and frees its blocks, and what can never
 * fit or exceeds the queue is refused with its reason.
 */
class EngineAdmissionTest {

  private static final String FIXTURE = "qwen3_moe";

  /** 64 cached positions in blocks of 16: room for one request of a ~20-token prompt and 32 tokens. */
  private static Engine.Options smallCache(int maxWaiting) {
    return new Engine.Options("test-model", DType.F32, 64, 16, 0, new Scheduler.Limits(64, 16, maxWaiting),
        Engine.DEFAULT_PEER_LOSS_GRACE);
  }

  @Test
  void requestsWaitForTheCacheAndRunWithTheSameOutputs() throws Exception {
    ModelExpectations want = ModelExpectations.of(FIXTURE);
    try (Checkpoint ckpt = Checkpoint.open(Fixtures.dir(FIXTURE));
        EngineGroup group = EngineGroup.start(1, ckpt, null, WorkerOptions.defaults(), smallCache(8))) {
      List<CollectingSink> sinks = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        CollectingSink sink = new CollectingSink();
        group.engine(0).submit(new GenerationRequest("r" + i, want.prompt(), SamplingParams.greedy(32)), sink);
        sinks.add(sink);
      }
      // One at a time: the second has no token until the first has finished and freed its blocks.
      for (int i = 0; i < 3; i++) {
        assertArrayEquals(want.generated(), EngineTesting.await(sinks.get(i)), "request " + i);
      }
    }
  }

  @Test
  void aCancelledRequestEndsAndFreesItsBlocks() throws Exception {
    ModelExpectations want = ModelExpectations.of(FIXTURE);
    try (Checkpoint ckpt = Checkpoint.open(Fixtures.dir(FIXTURE));
        EngineGroup group = EngineGroup.start(1, ckpt, null, WorkerOptions.defaults(), smallCache(8))) {
      CollectingSink first = new CollectingSink();
      // Cancelled from its third token on, on the engine's own thread: however busy the machine, long before 40.
      AtomicReference<GenerationHandle> handle = new AtomicReference<>();
      TokenSink cancelling = new TokenSink() {
        @Override
        public void onToken(int token, TokenLogprobs logprobs) {
          first.onToken(token, logprobs);
          if (first.count() >= 3 && handle.get() != null) {
            handle.get().cancel();
          }
        }

        @Override
        public void onFinish(FinishReason reason, String message) {
          first.onFinish(reason, message);
        }
      };
      handle.set(group.engine(0).submit(new GenerationRequest("long", want.prompt(),
          new SamplingParams(0f, 1f, 0, null, 40, null, true, null, 0f, 0f)), cancelling));
      CollectingSink second = new CollectingSink();
      group.engine(0).submit(new GenerationRequest("next", want.prompt(), SamplingParams.greedy(32)), second);
      assertEquals(FinishReason.CANCELLED, first.finish().get(30, TimeUnit.SECONDS));
      assertTrue(first.count() < 40, "cancelled before the end: " + first.count() + " tokens");
      assertArrayEquals(want.generated(), EngineTesting.await(second), "the waiting request got the blocks");
    }
  }

  @Test
  void whatCanNeverFitOrOverflowsTheQueueIsRefused() throws Exception {
    ModelExpectations want = ModelExpectations.of(FIXTURE);
    try (Checkpoint ckpt = Checkpoint.open(Fixtures.dir(FIXTURE));
        EngineGroup group = EngineGroup.start(1, ckpt, null, WorkerOptions.defaults(), smallCache(1))) {
      Engine engine = group.engine(0);
      EngineRejectedException tooBig = assertThrows(EngineRejectedException.class, () -> engine.submit(
          new GenerationRequest("big", want.prompt(), SamplingParams.greedy(100)), new CollectingSink()));
      assertEquals(EngineRejectedException.Kind.INVALID, tooBig.kind());
      assertTrue(tooBig.getMessage().contains("more than this worker's cache of 64 tokens"), tooBig.getMessage());
      EngineRejectedException badToken = assertThrows(EngineRejectedException.class, () -> engine.submit(
          new GenerationRequest("bad", new int[] {1, 512}, SamplingParams.greedy(4)), new CollectingSink()));
      assertTrue(badToken.getMessage().contains("not a token id of this model"), badToken.getMessage());
      // A long request runs, one waits, the next is refused as QUEUE_FULL (429 at the API).
      CollectingSink running = new CollectingSink();
      SamplingParams long40 = new SamplingParams(0f, 1f, 0, null, 40, null, true, null, 0f, 0f);
      engine.submit(new GenerationRequest("a", want.prompt(), long40), running);
      while (running.count() == 0) {
        Thread.sleep(2);
      }
      CollectingSink waiting = new CollectingSink();
      engine.submit(new GenerationRequest("b", want.prompt(), SamplingParams.greedy(4)), waiting);
      EngineRejectedException full = assertThrows(EngineRejectedException.class, () -> engine.submit(
          new GenerationRequest("c", want.prompt(), SamplingParams.greedy(4)), new CollectingSink()));
      assertEquals(EngineRejectedException.Kind.QUEUE_FULL, full.kind());
      assertEquals(40, EngineTesting.await(running).length);
      assertEquals(4, EngineTesting.await(waiting).length);
    }
  }
}

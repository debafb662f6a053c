package dev.moe.runtime.scheduler;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.moe.runtime.Fixtures;
import dev.moe.runtime.ModelExpectations;
import dev.moe.runtime.model.Checkpoint;
import dev.moe.runtime.parallel.WorkerOptions;
import dev.moe.runtime.sampling.SamplingParams;
import dev.moe.runtime.sampling.TokenLogprobs;
import dev.moe.runtime.tensor.DType;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.FieldSource;

/**
 * The engine generates what transformers' greedy {@code generate} does, for both fixture prompts
 * at once (continuously batched), on a group of one and of three workers (the prompts then on
 * different ranks: data-parallel attention, expert-parallel MoE).
 */
class EngineFixtureTest {

  static final List<String> FIXTURES = ModelExpectations.FIXTURES;

  static Engine.Options options() {
    return new Engine.Options("test-model", DType.F32, 2048, 16, 0, new Scheduler.Limits(64, 16, 64));
  }

  /** Collects one request's tokens. */
  static final class Collect implements TokenSink {
    final List<Integer> tokens = new ArrayList<>();
    final CompletableFuture<FinishReason> done = new CompletableFuture<>();
    volatile String message;

    @Override
    public void onToken(int token, TokenLogprobs logprobs) {
      tokens.add(token);
    }

    @Override
    public void onFinish(FinishReason reason, String message) {
      this.message = message;
      done.complete(reason);
    }

    int[] await() throws Exception {
      done.get(120, TimeUnit.SECONDS);
      return tokens.stream().mapToInt(Integer::intValue).toArray();
    }
  }

  @ParameterizedTest
  @FieldSource("FIXTURES")
  void greedyGenerationEqualsTransformersOnOneWorker(String fixture) throws Exception {
    generate(fixture, 1);
  }

  @ParameterizedTest
  @FieldSource("FIXTURES")
  void greedyGenerationEqualsTransformersOnThreeWorkers(String fixture) throws Exception {
    generate(fixture, 3);
  }

  private static void generate(String fixture, int workers) throws Exception {
    ModelExpectations want = ModelExpectations.of(fixture);
    try (Checkpoint ckpt = Checkpoint.open(Fixtures.dir(fixture));
        EngineGroup group = EngineGroup.start(workers, ckpt, null, WorkerOptions.defaults(), options())) {
      Collect first = new Collect();
      Collect second = new Collect();
      group.engine(0).submit(new GenerationRequest("a", want.prompt(), SamplingParams.greedy(want.generated().length)),
          first);
      group.engine(workers - 1).submit(new GenerationRequest("b", want.prompt2(),
          SamplingParams.greedy(want.generated2().length)), second);
      assertArrayEquals(want.generated(), first.await(), fixture + " prompt 1 on " + workers + " worker(s)");
      assertArrayEquals(want.generated2(), second.await(), fixture + " prompt 2 on " + workers + " worker(s)");
      assertEquals(FinishReason.LENGTH, first.done.get());
    }
  }
}

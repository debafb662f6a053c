package dev.moe.runtime.scheduler;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.moe.runtime.EngineTesting;
import dev.moe.runtime.Fixtures;
import dev.moe.runtime.ModelExpectations;
import dev.moe.runtime.model.Checkpoint;
import dev.moe.runtime.parallel.WorkerOptions;
import dev.moe.runtime.sampling.SamplingParams;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.FieldSource;

/**
 * The engine generates what transformers' greedy {@code generate} does, for both fixture prompts
 * at once (continuously batched), on a group of one and of three workers (the prompts then on
 * different ranks: data-parallel attention, expert-parallel MoE).
 */
class EngineFixtureTest {

  static final List<String> FIXTURES = ModelExpectations.FIXTURES;

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
        EngineGroup group = EngineGroup.start(workers, ckpt, null, WorkerOptions.defaults(), EngineTesting.options())) {
      CollectingSink first = new CollectingSink();
      CollectingSink second = new CollectingSink();
      group.engine(0).submit(new GenerationRequest("a", want.prompt(), SamplingParams.greedy(want.generated().length)),
          first);
      group.engine(workers - 1).submit(new GenerationRequest("b", want.prompt2(),
          SamplingParams.greedy(want.generated2().length)), second);
      assertArrayEquals(want.generated(), EngineTesting.await(first), fixture + " prompt 1 on " + workers + " worker(s)");
      assertArrayEquals(want.generated2(), EngineTesting.await(second), fixture + " prompt 2 on " + workers + " worker(s)");
      assertEquals(FinishReason.LENGTH, first.finish().get());
    }
  }
}

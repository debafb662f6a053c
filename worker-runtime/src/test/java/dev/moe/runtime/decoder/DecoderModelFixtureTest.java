package dev.moe.runtime.decoder;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moe.placement.Placement;
import dev.moe.runtime.Fixtures;
import dev.moe.runtime.ModelExpectations;
import dev.moe.runtime.model.Checkpoint;
import dev.moe.runtime.parallel.CheckpointModel;
import dev.moe.runtime.parallel.LocalGroup;
import dev.moe.runtime.parallel.WorkerNode;
import dev.moe.runtime.parallel.WorkerOptions;
import dev.moe.runtime.rebalance.Placements;
import dev.moe.runtime.tensor.DType;
import java.util.Arrays;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.FieldSource;

/**
 * The whole model against transformers' forward (fp32): every prompt position's logits, on one
 * worker and with the experts spread over three workers (expert parallelism over TCP).
 */
class DecoderModelFixtureTest {

  static final java.util.List<String> FIXTURES = ModelExpectations.FIXTURES;

  /** Relative to the largest logit: what fp32 arithmetic in another order may differ by. */
  static final double TOLERANCE = 1e-4;

  @ParameterizedTest
  @FieldSource("FIXTURES")
  void logitsEqualTransformersOnOneWorker(String fixture) {
    check(fixture, 1);
  }

  @ParameterizedTest
  @FieldSource("FIXTURES")
  void logitsEqualTransformersOnThreeWorkers(String fixture) {
    check(fixture, 3);
  }

  private static void check(String fixture, int workers) {
    ModelExpectations want = ModelExpectations.of(fixture);
    try (Checkpoint ckpt = Checkpoint.open(Fixtures.dir(fixture))) {
      CheckpointModel model = new CheckpointModel(ckpt, DType.F32);
      Placement placement = Placements.roundRobin(model.layers(), model.experts(), workers);
      try (LocalGroup group = LocalGroup.start(workers, model, placement, 1, WorkerOptions.defaults(), false)) {
        WorkerNode node = group.nodes().get(0);
        try (Forward forward = Forward.on(node, ckpt)) {
          float[] got = forward.all(want.prompt());
          assertClose(fixture + " prompt 1, " + workers + " worker(s)", want.logits(), got);
          float[] got2 = forward.all(want.prompt2());
          assertClose(fixture + " prompt 2, " + workers + " worker(s)", want.logits2(), got2);
        }
      }
    }
  }

  static void assertClose(String what, float[] want, float[] got) {
    double scale = Fixtures.maxAbs(want);
    double err = Fixtures.maxAbsDiff(want, got);
    assertTrue(err <= TOLERANCE * scale, what + ": max |logit - transformers'| " + err + " > " + TOLERANCE + " x " + scale);
  }

  /** The argmax of each row, for readable failures. */
  static int[] argmax(float[] logits, int vocab) {
    int[] out = new int[logits.length / vocab];
    for (int r = 0; r < out.length; r++) {
      int best = 0;
      for (int v = 1; v < vocab; v++) {
        if (logits[r * vocab + v] > logits[r * vocab + best]) {
          best = v;
        }
      }
      out[r] = best;
    }
    return out;
  }

  @ParameterizedTest
  @FieldSource("FIXTURES")
  void greedyTokensOfEveryPrefixMatchTransformersNextToken(String fixture) {
    ModelExpectations want = ModelExpectations.of(fixture);
    try (Checkpoint ckpt = Checkpoint.open(Fixtures.dir(fixture))) {
      CheckpointModel model = new CheckpointModel(ckpt, DType.F32);
      try (LocalGroup group = LocalGroup.start(1, model, Placements.roundRobin(model.layers(), model.experts(), 1), 1,
          WorkerOptions.defaults(), false); Forward forward = Forward.on(group.nodes().get(0), ckpt)) {
        int vocab = ckpt.modelConfig().vocabSize();
        assertArrayEquals(argmax(want.logits(), vocab), argmax(forward.all(want.prompt()), vocab),
            fixture + ": next-token argmax at every position");
        assertTrue(Arrays.stream(want.generated()).allMatch(t -> t >= 0 && t < vocab));
      }
    }
  }
}

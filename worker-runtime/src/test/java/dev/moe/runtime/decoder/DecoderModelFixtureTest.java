package dev.moe.runtime.decoder;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moe.placement.Placement;
import dev.moe.runtime.CudaDevice;
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
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.FieldSource;

/**
 * The whole model against transformers' forward (fp32): every prompt position's logits, on one
 * worker and with the experts spread over three workers (expert parallelism over TCP).
 *
 * <p>On CUDA (tag {@code cuda}; see {@link CudaDevice}) the same, with the same tolerance: every CUDA
 * kernel on this float32 path sums in the CPU backend's order, so the logits also equal the CPU
 * backend's, within {@link CudaDevice#SAME_ARITHMETIC} (bit for bit by design).
 */
class DecoderModelFixtureTest {

  static final java.util.List<String> FIXTURES = ModelExpectations.FIXTURES;

  /** Relative to the largest logit: what fp32 arithmetic in another order may differ by. */
  static final double TOLERANCE = 1e-4;

  @ParameterizedTest
  @FieldSource("FIXTURES")
  void logitsEqualTransformersOnOneWorker(String fixture) {
    check(fixture, 1, WorkerOptions.defaults());
  }

  @ParameterizedTest
  @FieldSource("FIXTURES")
  void logitsEqualTransformersOnThreeWorkers(String fixture) {
    check(fixture, 3, WorkerOptions.defaults());
  }

  @Tag(CudaDevice.TAG)
  @ParameterizedTest
  @FieldSource("FIXTURES")
  void logitsOnCudaEqualTransformersAndTheCpuBackend(String fixture) {
    CudaDevice.assumeUsable();
    float[][] cuda = check(fixture, 1, CudaDevice.options());
    float[][] cudaGroup = check(fixture, 3, CudaDevice.options());
    float[][] cpu = logits(ModelExpectations.of(fixture), fixture, 1, WorkerOptions.defaults());
    for (int p = 0; p < 2; p++) {
      CudaDevice.assertMatchesCpu(fixture + " prompt " + (p + 1) + ", 1 worker", cpu[p], cuda[p]);
      CudaDevice.assertMatchesCpu(fixture + " prompt " + (p + 1) + ", 3 workers", cpu[p], cudaGroup[p]);
    }
  }

  /** Both prompts' logits on {@code workers} workers run with {@code options}, checked against transformers'. */
  private static float[][] check(String fixture, int workers, WorkerOptions options) {
    ModelExpectations want = ModelExpectations.of(fixture);
    float[][] got = logits(want, fixture, workers, options);
    String where = workers + " worker(s) on " + options.backend().flagValue();
    assertClose(fixture + " prompt 1, " + where, want.logits(), got[0]);
    assertClose(fixture + " prompt 2, " + where, want.logits2(), got[1]);
    return got;
  }

  private static float[][] logits(ModelExpectations want, String fixture, int workers, WorkerOptions options) {
    try (Checkpoint ckpt = Checkpoint.open(Fixtures.dir(fixture))) {
      CheckpointModel model = new CheckpointModel(ckpt, DType.F32);
      Placement placement = Placements.roundRobin(model.layers(), model.experts(), workers);
      try (LocalGroup group = LocalGroup.start(workers, model, placement, 1, options, false)) {
        WorkerNode node = group.nodes().get(0);
        // The backend asked for is the one that runs: CUDA never falls back to the CPU.
        assertEquals(options.backend(), node.backend().kind(), "the backend that ran");
        try (Forward forward = Forward.on(node, ckpt)) {
          return new float[][] {forward.all(want.prompt()), forward.all(want.prompt2())};
        }
      }
    }
  }

  static void assertClose(String what, float[] want, float[] got) {
    double scale = Fixtures.maxAbs(want);
    double err = Fixtures.maxAbsDiff(want, got);
    System.out.printf("%s: max |logit - transformers'| %.3e (max |logit| %.3e)%n", what, err, scale);
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

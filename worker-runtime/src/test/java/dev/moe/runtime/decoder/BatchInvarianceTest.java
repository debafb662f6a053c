package dev.moe.runtime.decoder;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moe.runtime.CudaDevice;
import dev.moe.runtime.Fixtures;
import dev.moe.runtime.ModelExpectations;
import dev.moe.runtime.model.Checkpoint;
import dev.moe.runtime.parallel.CheckpointModel;
import dev.moe.runtime.parallel.LocalGroup;
import dev.moe.runtime.parallel.WorkerOptions;
import dev.moe.runtime.rebalance.Placements;
import dev.moe.runtime.tensor.DType;
import java.util.Arrays;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.FieldSource;

/**
 * A request's logits are bit-identical whatever it is batched with and however its prompt is
 * chunked, and decoding from the KV cache equals recomputing without it, bit for bit. The
 * neighbour is the cross-batch attack of "Buffer Overflow in MoE": a sequence that sends every
 * token to the same experts (one token repeated, whose rows are identical at every layer, so they
 * all route alike), starting with the victim's first token so that the experts are shared.
 *
 * <p>The same on CUDA (tag {@code cuda}; see {@link CudaDevice}).
 */
class BatchInvarianceTest {

  static final java.util.List<String> FIXTURES = ModelExpectations.FIXTURES;

  @ParameterizedTest
  @FieldSource("FIXTURES")
  void logitsDoNotDependOnTheBatchOrTheChunking(String fixture) {
    check(fixture, WorkerOptions.defaults());
  }

  @Tag(CudaDevice.TAG)
  @ParameterizedTest
  @FieldSource("FIXTURES")
  void logitsOnCudaDoNotDependOnTheBatchOrTheChunking(String fixture) {
    CudaDevice.assumeUsable();
    check(fixture, CudaDevice.options());
  }

  private static void check(String fixture, WorkerOptions options) {
    ModelExpectations want = ModelExpectations.of(fixture);
    int[] victim = want.prompt();
    int[] attacker = new int[48];
    Arrays.fill(attacker, victim[0]);
    for (int workers : new int[] {1, 3}) {
      try (Checkpoint ckpt = Checkpoint.open(Fixtures.dir(fixture))) {
        CheckpointModel model = new CheckpointModel(ckpt, DType.F32);
        try (LocalGroup group = LocalGroup.start(workers, model,
            Placements.roundRobin(model.layers(), model.experts(), workers), 1, options, false);
            Forward forward = Forward.on(group.nodes().get(0), ckpt)) {
          assertEquals(options.backend(), group.nodes().get(0).backend().kind(), "the backend that ran");
          String where = fixture + ", " + workers + " worker(s) on " + options.backend().flagValue();
          int vocab = ckpt.modelConfig().vocabSize();
          float[] alone = forward.all(victim);
          // Equal arrays prove nothing if both are NaN (assertArrayEquals counts NaN equal to NaN).
          assertTrue(finite(alone), where + ": logits are finite");

          // Beside the attacker, which comes first in the batch (the victim's rows move too).
          int n = victim.length;
          int[] tokens = concat(attacker, victim);
          int[] rows = new int[n];
          for (int i = 0; i < n; i++) {
            rows[i] = attacker.length + i;
          }
          int ab = Forward.blocksFor(attacker.length);
          int vb = Forward.blocksFor(n);
          int max = Math.max(ab, vb);
          int[] table = new int[2 * max];
          System.arraycopy(Forward.blocks(100, attacker.length), 0, table, 0, ab);
          System.arraycopy(Forward.blocks(0, n), 0, table, max, vb);
          float[] beside = forward.run(new DecoderModel.Batch(tokens, new int[] {attacker.length, n}, new int[] {0, 0},
              table, max, rows));
          assertArrayEquals(alone, beside, where + ": logits beside the attacker");

          // The prompt in chunks of 5 (each chunk's last row's logits), then decoding 6 tokens from the cache,
          // against recomputing the whole sequence without a cache.
          int[] sequence = concat(victim, Arrays.copyOf(want.generated(), 6));
          float[] recomputed = forward.all(sequence);
          assertTrue(finite(recomputed), where + ": recomputed logits are finite");
          for (int start = 0; start < sequence.length; ) {
            int len = start < n ? Math.min(5, n - start) : 1;
            int[] chunk = Arrays.copyOfRange(sequence, start, start + len);
            float[] last = forward.run(new DecoderModel.Batch(chunk, new int[] {len}, new int[] {start},
                Forward.blocks(0, sequence.length), Forward.blocksFor(sequence.length), new int[] {len - 1}));
            float[] expected = Arrays.copyOfRange(recomputed, (start + len - 1) * vocab, (start + len) * vocab);
            assertArrayEquals(expected, last, where + ": position " + (start + len - 1)
                + " from the cache vs recomputed");
            start += len;
          }
          assertEquals(sequence.length * vocab, recomputed.length);
        }
      }
    }
  }

  static boolean finite(float[] values) {
    for (float v : values) {
      if (!Float.isFinite(v)) {
        return false;
      }
    }
    return true;
  }

  static int[] concat(int[] a, int[] b) {
    int[] c = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, c, a.length, b.length);
    return c;
  }
}

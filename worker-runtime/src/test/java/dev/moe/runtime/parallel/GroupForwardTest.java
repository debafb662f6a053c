package dev.moe.runtime.parallel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moe.placement.Placement;
import dev.moe.runtime.Fixtures;
import dev.moe.runtime.layer.MoeBlock;
import dev.moe.runtime.model.Checkpoint;
import dev.moe.runtime.nativelib.Backend;
import dev.moe.runtime.nativelib.BackendChoice;
import dev.moe.runtime.rebalance.Placements;
import dev.moe.runtime.tensor.DType;
import dev.moe.runtime.tensor.SafetensorsFile;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * N in-process workers over real TCP loopback equal the single-process {@link MoeBlock}, for every
 * fixture architecture, N = 2, 3, 4, with placements that replicate the hot experts across
 * workers. The combine sums in choice order in both paths, so the bound is tight: max |diff| <=
 * 1e-5 * max |reference|.
 */
class GroupForwardTest {

  static final double REL = 1e-5;

  static Stream<Arguments> cases() {
    return Fixtures.ARCHS.stream().flatMap(arch -> IntStream.of(2, 3, 4).mapToObj(n -> Arguments.of(arch, n)));
  }

  /** The fixture's input and the single-process block's output and routing on it. */
  record Reference(float[] x, int tokens, MoeBlock.Result result) {}

  static Reference reference(String arch, Checkpoint ckpt, DType dtype) {
    try (SafetensorsFile expected = SafetensorsFile.open(Fixtures.expected(arch));
        Backend backend = Backend.open(BackendChoice.CPU, 1);
        MoeBlock block = MoeBlock.load(backend, ckpt, Fixtures.layer(arch), dtype, 1024)) {
      float[] x = expected.tensor("input").toFloats();
      int tokens = (int) expected.tensor("input").dim(0);
      return new Reference(x, tokens, block.forward(x, tokens));
    }
  }

  /**
   * Round robin, plus one extra slot per GPU holding a replica of the hottest expert (by the
   * reference routing) not homed there and not replicated yet; the home slot keeps 0.6 of the
   * expert's tokens, the replica 0.4.
   */
  static Placement hotReplicas(int layers, int experts, int gpus, int[] ids) {
    Placement base = Placements.roundRobin(layers, experts, gpus);
    int per = base.slotsPerGpu();
    long[] count = new long[experts];
    for (int id : ids) {
      count[id]++;
    }
    Integer[] byHeat = IntStream.range(0, experts).boxed().sorted(Comparator.comparingLong(e -> -count[e]))
        .toArray(Integer[]::new);
    int[] map = new int[(per + 1) * gpus];
    double[] shares = new double[map.length];
    for (int g = 0; g < gpus; g++) {
      for (int i = 0; i < per; i++) {
        map[g * (per + 1) + i] = base.physicalToLogical()[0][g * per + i];
        shares[g * (per + 1) + i] = base.replicaShares()[0][g * per + i];
      }
    }
    boolean[] replicated = new boolean[experts];
    for (int g = 0; g < gpus; g++) {
      int gpu = g;
      int hot = Arrays.stream(byHeat).filter(e -> e % gpus != gpu && !replicated[e]).findFirst().orElseThrow();
      replicated[hot] = true;
      map[g * (per + 1) + per] = hot;
      shares[g * (per + 1) + per] = 0.4;
      shares[(hot % gpus) * (per + 1) + hot / gpus] = 0.6;
    }
    int[][] maps = new int[layers][];
    double[][] allShares = new double[layers][];
    for (int l = 0; l < layers; l++) {
      maps[l] = map.clone();
      allShares[l] = shares.clone();
    }
    return new Placement(per + 1, maps, allShares, null);
  }

  @ParameterizedTest(name = "{0}, {1} workers")
  @MethodSource("cases")
  void equalsSingleProcess(String arch, int workers) {
    try (Checkpoint ckpt = Checkpoint.open(Fixtures.dir(arch))) {
      Reference ref = reference(arch, ckpt, DType.F32);
      CheckpointModel model = new CheckpointModel(ckpt, DType.F32);
      Placement placement = hotReplicas(model.layers(), model.experts(), workers, ref.result().routing().ids());
      int layer = Fixtures.layer(arch);
      try (LocalGroup local = LocalGroup.start(workers, model, placement, WorkerOptions.defaults())) {
        WorkerGroup.StepOutput out = local.group().step(ref.x(), ref.tokens(), new int[] {layer}).join();
        float[] want = ref.result().output();
        double diff = Fixtures.maxAbsDiff(want, out.y());
        assertTrue(diff <= REL * Fixtures.maxAbs(want), arch + " x" + workers + ": max |diff| " + diff + " vs max "
            + Fixtures.maxAbs(want));
        assertArrayEquals(ref.result().routing().ids(), out.ids()[0], "routing ids");
        // The router's logits of a worker's share of the tokens may sum in another order than over
        // the whole batch (the linear kernel tiles rows), so weights agree to rounding, not bits.
        assertArrayEquals(ref.result().routing().weights(), out.weights()[0], (float) REL, "routing weights");
        // Every (token, choice) went somewhere, and a replicated expert's tokens did reach its replica.
        assertEquals(ref.tokens() * model.topK(), Arrays.stream(out.rowsPerWorker()).sum());
        assertTrue(Arrays.stream(out.rowsPerWorker()).filter(r -> r > 0).count() >= Math.min(workers, 2),
            "rows spread over the workers: " + Arrays.toString(out.rowsPerWorker()));
      }
    }
  }

  @Test
  void bf16StorageEqualsSingleProcessBf16() {
    String arch = "qwen2_moe";
    try (Checkpoint ckpt = Checkpoint.open(Fixtures.dir(arch))) {
      Reference ref = reference(arch, ckpt, DType.BF16);
      CheckpointModel model = new CheckpointModel(ckpt, DType.BF16);
      Placement placement = hotReplicas(model.layers(), model.experts(), 2, ref.result().routing().ids());
      try (LocalGroup local = LocalGroup.start(2, model, placement,
          WorkerOptions.defaults().withWeightDtype(DType.BF16))) {
        float[] y = local.group().step(ref.x(), ref.tokens(), new int[] {Fixtures.layer(arch)}).join().y();
        double diff = Fixtures.maxAbsDiff(ref.result().output(), y);
        assertTrue(diff <= REL * Fixtures.maxAbs(ref.result().output()), "max |diff| " + diff);
      }
    }
  }

  /** Mixtral's fixture has two MoE layers: a step through both equals the blocks applied in turn. */
  @Test
  void stepThroughTwoLayersEqualsBlocksInTurn() {
    String arch = "mixtral";
    try (Checkpoint ckpt = Checkpoint.open(Fixtures.dir(arch));
        SafetensorsFile expected = SafetensorsFile.open(Fixtures.expected(arch));
        Backend backend = Backend.open(BackendChoice.CPU, 1);
        MoeBlock first = MoeBlock.load(backend, ckpt, 0, DType.F32, 1024);
        MoeBlock second = MoeBlock.load(backend, ckpt, 1, DType.F32, 1024)) {
      float[] x = expected.tensor("input").toFloats();
      int tokens = (int) expected.tensor("input").dim(0);
      float[] want = second.forward(first.forward(x, tokens).output(), tokens).output();
      CheckpointModel model = new CheckpointModel(ckpt, DType.F32);
      try (LocalGroup local = LocalGroup.start(3, model, Placements.roundRobin(2, 8, 3), WorkerOptions.defaults())) {
        float[] y = local.group().step(x, tokens, new int[] {0, 1}).join().y();
        assertTrue(Fixtures.maxAbsDiff(want, y) <= REL * Fixtures.maxAbs(want));
      }
    }
  }

  static List<String> archs() {
    return Fixtures.ARCHS;
  }
}

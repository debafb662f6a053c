package dev.moe.runtime.decoder;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.moe.runtime.Fixtures;
import dev.moe.runtime.ModelExpectations;
import dev.moe.runtime.model.Checkpoint;
import dev.moe.runtime.model.ModelConfig;
import dev.moe.runtime.parallel.CheckpointModel;
import dev.moe.runtime.parallel.LocalGroup;
import dev.moe.runtime.parallel.WorkerOptions;
import dev.moe.runtime.rebalance.Placements;
import dev.moe.runtime.tensor.DType;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.FieldSource;

/**
 * The same models as transformers 5.x saves them ({@code <name>_v5}: rope_parameters,
 * num_local_experts, layer_types, one unsharded file...) read to the same configuration and give
 * transformers 4.57's logits.
 */
class TransformersFiveTest {

  static final java.util.List<String> FIXTURES = ModelExpectations.FIXTURES;

  @ParameterizedTest
  @FieldSource("FIXTURES")
  void fiveXCheckpointsGiveTheSameModel(String fixture) {
    try (Checkpoint v4 = Checkpoint.open(Fixtures.dir(fixture));
        Checkpoint v5 = Checkpoint.open(Fixtures.dir(fixture + "_v5"))) {
      ModelConfig a = v4.modelConfig();
      ModelConfig b = v5.modelConfig();
      assertEquals(a.moe().numExperts(), b.moe().numExperts());
      assertEquals(a.attention(), b.attention());
      assertEquals(a.rope().type(), b.rope().type());
      org.junit.jupiter.api.Assertions.assertArrayEquals(a.rope().invFreq(), b.rope().invFreq());
      for (int l = 0; l < a.numLayers(); l++) {
        assertEquals(a.moe().isMoeLayer(l), b.moe().isMoeLayer(l));
        assertEquals(a.slidingWindow(l), b.slidingWindow(l));
      }
      ModelExpectations want = ModelExpectations.of(fixture);
      CheckpointModel model = new CheckpointModel(v5, DType.F32);
      try (LocalGroup group = LocalGroup.start(1, model, Placements.roundRobin(model.layers(), model.experts(), 1), 1,
          WorkerOptions.defaults(), false); Forward forward = Forward.on(group.nodes().get(0), v5)) {
        DecoderModelFixtureTest.assertClose(fixture + "_v5", want.logits(), forward.all(want.prompt()));
      }
    }
  }
}

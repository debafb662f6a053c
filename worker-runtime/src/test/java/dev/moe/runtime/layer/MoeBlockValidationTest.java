package dev.moe.runtime.layer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.moe.runtime.Fixtures;
import dev.moe.runtime.model.Checkpoint;
import dev.moe.runtime.nativelib.Backend;
import dev.moe.runtime.nativelib.BackendChoice;
import dev.moe.runtime.tensor.DType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class MoeBlockValidationTest {

  static Backend backend;

  @BeforeAll
  static void open() {
    backend = Backend.open(BackendChoice.CPU, 0);
  }

  @AfterAll
  static void close() {
    backend.close();
  }

  @Test
  void denseLayerIsRefused() {
    try (Checkpoint ckpt = Checkpoint.open(Fixtures.dir("deepseek_v3"))) {
      var e = assertThrows(InvalidRequestException.class, () -> MoeBlock.load(backend, ckpt, 0, DType.F32, 8));
      assertEquals("layer 0 of this deepseek_v3 checkpoint is a dense MLP layer, not MoE; MoE layers are 1",
          e.getMessage());
    }
    try (Checkpoint ckpt = Checkpoint.open(Fixtures.dir("qwen3_moe"))) {
      var e = assertThrows(InvalidRequestException.class, () -> MoeBlock.load(backend, ckpt, 1, DType.F32, 8));
      assertEquals("layer 1 of this qwen3_moe checkpoint is a dense MLP layer, not MoE; MoE layers are 0",
          e.getMessage());
    }
  }

  @Test
  void layerOutOfRangeIsRefused() {
    try (Checkpoint ckpt = Checkpoint.open(Fixtures.dir("mixtral"))) {
      var e = assertThrows(InvalidRequestException.class, () -> MoeBlock.load(backend, ckpt, 2, DType.F32, 8));
      assertEquals("layer 2 is out of range: this mixtral checkpoint has layers 0..1 (MoE layers are 0..1)",
          e.getMessage());
    }
  }

  @Test
  void badInputsAreRefused() {
    try (Checkpoint ckpt = Checkpoint.open(Fixtures.dir("mixtral"));
        MoeBlock block = MoeBlock.load(backend, ckpt, 1, DType.F32, 4)) {
      var config = ckpt.config();
      assertEquals("input has hidden size 32, but this mixtral checkpoint's hidden_size is 64",
          assertThrows(InvalidRequestException.class, () -> MoeBlock.checkInput(config, new long[] {3, 32}, 4))
              .getMessage());
      assertEquals("input must be a matrix [tokens, hidden], got shape [64]",
          assertThrows(InvalidRequestException.class, () -> MoeBlock.checkInput(config, new long[] {64}, 4))
              .getMessage());
      assertEquals("input has 0 tokens; at least 1 is needed",
          assertThrows(InvalidRequestException.class, () -> block.forward(new float[0], 0)).getMessage());
      assertEquals("input has 5 tokens, more than the maximum batch of 4",
          assertThrows(InvalidRequestException.class, () -> block.forward(new float[5 * 64], 5)).getMessage());
      assertEquals("input holds 100 values, not 2 tokens x hidden 64",
          assertThrows(InvalidRequestException.class, () -> block.forward(new float[100], 2)).getMessage());
      assertEquals(4, block.forward(new float[4 * 64], 4).routing().tokens());
    }
  }
}

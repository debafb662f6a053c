package dev.moe.runtime.replay;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moe.runtime.model.Architecture;
import dev.moe.runtime.model.Checkpoint;
import dev.moe.runtime.model.ExpertWeights;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The synthetic DeepSeek-V3 checkpoint reads back as DeepSeek-V3 through the real loader. */
class SyntheticCheckpointTest {

  @Test
  void readsBackWithDeepSeekV3sLayoutAndTheSyntheticWeights(@TempDir Path dir) {
    SyntheticCheckpoint.writeDeepSeekV3(dir, 8, 4, 7);
    try (Checkpoint c = Checkpoint.open(dir)) {
      assertEquals(Architecture.DEEPSEEK_V3, c.config().architecture());
      assertEquals(61, c.config().numLayers());
      assertEquals(58, c.config().moeLayers().length);
      assertFalse(c.config().isMoeLayer(2));
      assertTrue(c.config().isMoeLayer(3) && c.config().isMoeLayer(60));
      assertEquals(256, c.config().numExperts());
      assertEquals(8, c.config().topK());
      assertEquals(4, c.config().topkGroup());
      assertTrue(c.config().hasSharedExpert());
      ExpertWeights read = c.expert(60, 255);
      ExpertWeights made = new SyntheticModel(61, new int[] {60}, 256, 8, 8, 4, 7).expert(60, 255);
      assertArrayEquals(made.down().toArray(ValueLayout.JAVA_FLOAT), read.down().toArray(ValueLayout.JAVA_FLOAT));
    }
  }
}

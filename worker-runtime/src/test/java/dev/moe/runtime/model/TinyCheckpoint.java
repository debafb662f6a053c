package dev.moe.runtime.model;

import dev.moe.runtime.tensor.RawSafetensors;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** A tiny Mixtral checkpoint (hidden 4, 2 experts of inter 2, top-1, one layer) for damaging in tests. */
final class TinyCheckpoint {

  static final int HIDDEN = 4;
  static final int INTER = 2;
  static final String CONFIG = "{\"model_type\": \"mixtral\", \"hidden_size\": 4, \"num_hidden_layers\": 1,"
      + " \"num_local_experts\": 2, \"num_experts_per_tok\": 1, \"intermediate_size\": 2}";

  private TinyCheckpoint() {}

  static float[] values(int n, float seed) {
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = seed + 0.01f * i;
    }
    return v;
  }

  /** The tensors of a complete checkpoint, F32. */
  static RawSafetensors tensors() {
    RawSafetensors t = new RawSafetensors()
        .f32("model.layers.0.block_sparse_moe.gate.weight", values(2 * HIDDEN, 0.5f), 2, HIDDEN);
    for (int e = 0; e < 2; e++) {
      String p = "model.layers.0.block_sparse_moe.experts." + e + ".";
      t.f32(p + "w1.weight", values(INTER * HIDDEN, e + 0.1f), INTER, HIDDEN)
          .f32(p + "w3.weight", values(INTER * HIDDEN, e + 0.2f), INTER, HIDDEN)
          .f32(p + "w2.weight", values(HIDDEN * INTER, e + 0.3f), HIDDEN, INTER);
    }
    return t;
  }

  /** Writes config and tensors into {@code dir} as a single-file checkpoint. */
  static Path write(Path dir, String config, RawSafetensors tensors) {
    try {
      Files.createDirectories(dir);
      Files.writeString(dir.resolve("config.json"), config);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    tensors.write(dir.resolve("model.safetensors"));
    return dir;
  }
}

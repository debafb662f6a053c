package dev.moe.runtime;

import dev.moe.runtime.tensor.SafetensorsFile;
import java.nio.file.Path;

/**
 * A fixture's {@code expected_model.safetensors}: transformers' whole-model logits over two prompts
 * and its greedy continuations of them (see the fixtures README).
 */
public record ModelExpectations(int[] prompt, float[] logits, int[] generated, int[] prompt2, float[] logits2,
    int[] generated2) {

  /** The fixtures with whole-model expectations: every architecture, and DeepSeek-V3 without q LoRA. */
  public static final java.util.List<String> FIXTURES =
      java.util.List.of("mixtral", "qwen2_moe", "qwen3_moe", "olmoe", "deepseek_v3", "deepseek_v3_q_proj");

  public static ModelExpectations of(String fixture) {
    Path file = Fixtures.dir(fixture).resolve("expected_model.safetensors");
    try (SafetensorsFile f = SafetensorsFile.open(file)) {
      return new ModelExpectations(ints(f, "prompt_ids"), f.tensor("logits").toFloats(), ints(f, "generated_ids"),
          ints(f, "prompt2_ids"), f.tensor("logits2").toFloats(), ints(f, "generated2_ids"));
    }
  }

  private static int[] ints(SafetensorsFile f, String name) {
    long[] v = f.tensor(name).toLongs();
    int[] out = new int[v.length];
    for (int i = 0; i < v.length; i++) {
      out[i] = Math.toIntExact(v[i]);
    }
    return out;
  }
}

package dev.moe.runtime.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.moe.runtime.Fixtures;
import dev.moe.runtime.nativelib.Backend;
import dev.moe.runtime.tensor.DType;
import dev.moe.runtime.tensor.RawSafetensors;
import dev.moe.runtime.tensor.SafetensorsFile;
import dev.moe.runtime.tensor.SafetensorsWriter;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ForwardCommandTest {

  @TempDir Path tmp;

  record Run(int code, String out, String err) {}

  static Run run(String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int code = WorkerCli.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8));
    return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }

  private Run forward(String arch, int layer, Path input, String... extra) {
    List<String> args = new ArrayList<>(List.of("forward", "--checkpoint", Fixtures.dir(arch).toString(),
        "--layer", Integer.toString(layer), "--input", input.toString(), "--out", tmp.resolve("out.safetensors")
            .toString()));
    args.addAll(List.of(extra));
    if (!args.contains("--backend")) {
      args.addAll(List.of("--backend", "cpu"));
    }
    return run(args.toArray(String[]::new));
  }

  /** A user error: exit 2, one line on stderr with the expected text, no stack trace, nothing written. */
  private static void assertUserError(Run r, String expected) {
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().startsWith("worker-runtime: error: "), r.err());
    assertTrue(r.err().contains(expected), "expected \"" + expected + "\" in: " + r.err());
    assertEquals(1, r.err().strip().lines().count(), r.err());
    assertFalse(r.err().contains("Exception"), r.err());
  }

  @Test
  void forwardWritesOutputAndRouting() throws Exception {
    for (String arch : List.of("mixtral", "deepseek_v3")) {
      Path out = tmp.resolve("out.safetensors");
      Files.deleteIfExists(out);
      Run r = forward(arch, Fixtures.layer(arch), Fixtures.expected(arch), "--threads", "2");
      assertEquals(0, r.code(), r.err());
      assertEquals("", r.err());
      assertTrue(r.out().startsWith("layer " + Fixtures.layer(arch) + " of " + arch + ": 24 tokens"), r.out());
      try (SafetensorsFile got = SafetensorsFile.open(out);
          SafetensorsFile want = SafetensorsFile.open(Fixtures.expected(arch))) {
        assertEquals(List.of("output", "topk_ids", "topk_weights"), List.copyOf(got.names()));
        assertEquals(DType.F32, got.tensor("output").dtype());
        assertEquals(DType.I64, got.tensor("topk_ids").dtype());
        assertEquals(DType.F32, got.tensor("topk_weights").dtype());
        assertArrayEquals(want.tensor("output").shape(), got.tensor("output").shape());
        assertArrayEquals(want.tensor("topk_ids").shape(), got.tensor("topk_ids").shape());
        float[] expected = want.tensor("output").toFloats();
        double err = Fixtures.maxAbsDiff(expected, got.tensor("output").toFloats());
        assertTrue(err <= 1e-5 * Fixtures.maxAbs(expected) + 1e-6, arch + ": max error " + err);
        if (arch.equals("mixtral")) {
          assertArrayEquals(want.tensor("topk_ids").toLongs(), got.tensor("topk_ids").toLongs());
          assertArrayEquals(want.tensor("topk_weights").toFloats(), got.tensor("topk_weights").toFloats(), 1e-6f);
        }
      }
    }
  }

  @Test
  void forwardWithBf16Storage() throws Exception {
    Run r = forward("qwen2_moe", 1, Fixtures.expected("qwen2_moe"), "--dtype", "bf16");
    assertEquals(0, r.code(), r.err());
    try (SafetensorsFile got = SafetensorsFile.open(tmp.resolve("out.safetensors"));
        SafetensorsFile want = SafetensorsFile.open(Fixtures.expected("qwen2_moe"))) {
      float[] expected = want.tensor("output_bf16").toFloats();
      double err = Fixtures.maxAbsDiff(expected, got.tensor("output").toFloats());
      assertTrue(err <= 1e-4 * Fixtures.maxAbs(expected), "max error " + err);
    }
  }

  @Test
  void malformedInputFile() throws Exception {
    Path bad = tmp.resolve("bad.safetensors");
    Files.write(bad, new byte[] {1, 2, 3});
    assertUserError(forward("mixtral", 1, bad), bad + ": truncated: 3 bytes, shorter than the 8-byte header length");
    Path noInput = tmp.resolve("noinput.safetensors");
    new SafetensorsWriter().add("x", new float[64], 1, 64).write(noInput);
    assertUserError(forward("mixtral", 1, noInput), noInput + ": no tensor named 'input' (forward reads the"
        + " [tokens, hidden] f32 tensor 'input'; the file has x)");
    Path i64 = tmp.resolve("i64.safetensors");
    new SafetensorsWriter().add("input", new long[64], 1, 64).write(i64);
    assertUserError(forward("mixtral", 1, i64), "tensor 'input' is I64, expected F32");
    assertUserError(forward("mixtral", 1, tmp.resolve("absent.safetensors")), "absent.safetensors: no such file");
  }

  @Test
  void wrongHiddenSizeZeroAndTooManyTokens() {
    Path narrow = tmp.resolve("narrow.safetensors");
    new SafetensorsWriter().add("input", new float[3 * 32], 3, 32).write(narrow);
    assertUserError(forward("mixtral", 1, narrow), "input has hidden size 32, but this mixtral checkpoint's"
        + " hidden_size is 64");
    Path empty = tmp.resolve("empty.safetensors");
    new SafetensorsWriter().add("input", new float[0], 0, 64).write(empty);
    assertUserError(forward("mixtral", 1, empty), "input has 0 tokens; at least 1 is needed");
    assertUserError(forward("mixtral", 1, Fixtures.expected("mixtral"), "--max-tokens", "16"),
        "input has 24 tokens, more than the maximum batch of 16");
  }

  @Test
  void denseAndOutOfRangeLayers() {
    assertUserError(forward("deepseek_v3", 0, Fixtures.expected("deepseek_v3")),
        "layer 0 of this deepseek_v3 checkpoint is a dense MLP layer, not MoE; MoE layers are 1");
    assertUserError(forward("olmoe", 7, Fixtures.expected("olmoe")),
        "layer 7 is out of range: this olmoe checkpoint has layers 0..1 (MoE layers are 0..1)");
  }

  @Test
  void checkpointProblems() throws Exception {
    Path llama = Files.createDirectories(tmp.resolve("llama"));
    Files.writeString(llama.resolve("config.json"), "{\"model_type\": \"llama\"}");
    new RawSafetensors().f32("x", new float[1], 1).write(llama.resolve("model.safetensors"));
    Run r = run("forward", "--checkpoint", llama.toString(), "--layer", "0", "--input",
        Fixtures.expected("mixtral").toString(), "--out", tmp.resolve("o.safetensors").toString());
    assertUserError(r, "unsupported model_type 'llama'; supported model types: mixtral, qwen2_moe, qwen3_moe, olmoe,"
        + " deepseek_v3");

    Path broken = Fixtures.copy("mixtral", tmp.resolve("broken"));
    Path weights = broken.resolve("model.safetensors");
    byte[] bytes = Files.readAllBytes(weights);
    Files.write(weights, java.util.Arrays.copyOf(bytes, bytes.length / 2));
    r = run("forward", "--checkpoint", broken.toString(), "--layer", "1", "--input",
        Fixtures.expected("mixtral").toString(), "--out", tmp.resolve("o.safetensors").toString());
    assertUserError(r, weights + ": tensor '");
    assertTrue(r.err().contains("run past the end of the data"), r.err());
    assertFalse(Files.exists(tmp.resolve("o.safetensors")));
  }

  @Test
  void optionMistakes() {
    assertUserError(forward("mixtral", 1, Fixtures.expected("mixtral"), "--backend", "tpu"),
        "unknown backend 'tpu': expected auto, cpu or cuda");
    assertUserError(forward("mixtral", 1, Fixtures.expected("mixtral"), "--dtype", "fp16"), "--dtype");
    assertUserError(forward("mixtral", 1, Fixtures.expected("mixtral"), "--workers", "0"),
        "--workers must be at least 1, got 0");
    assertUserError(run("forward", "--layer", "1"), "Missing required options");
    assertUserError(run(), "missing command");
  }

  @Test
  void cudaWithoutADevice() {
    assumeTrue(Backend.cudaDeviceCount() == 0, "a CUDA device is visible");
    Run r = forward("mixtral", 1, Fixtures.expected("mixtral"), "--backend", "cuda");
    assertEquals(1, r.code(), r.err());
    assertTrue(r.err().startsWith("worker-runtime: error: --backend cuda: no CUDA device is usable"), r.err());
  }

  @Test
  void helpAndVersion() {
    Run help = run("--help");
    assertEquals(0, help.code());
    assertTrue(help.out().contains("forward"), help.out());
    Run fhelp = run("forward", "--help");
    assertEquals(0, fhelp.code());
    assertTrue(fhelp.out().contains("--checkpoint=DIR"), fhelp.out());
    Run version = run("--version");
    assertEquals(0, version.code());
    assertTrue(version.out().contains("native library: moe_runtime"), version.out());
  }
}

package dev.moe.runtime.parallel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moe.placement.Placement;
import dev.moe.placement.PlacementJson;
import dev.moe.runtime.Fixtures;
import dev.moe.runtime.cli.WorkerCli;
import dev.moe.runtime.model.Checkpoint;
import dev.moe.runtime.tensor.DType;
import dev.moe.runtime.tensor.SafetensorsFile;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real worker processes: {@code forward --workers 3} spawns three child JVMs ({@code serve} on
 * loopback, same java and class path) and must write what {@code --workers 1} writes.
 */
class ChildWorkersTest {

  @TempDir Path dir;

  private static int cli(String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int code = WorkerCli.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8));
    assertEquals(0, code, "worker-runtime " + String.join(" ", args) + ": " + err.toString(StandardCharsets.UTF_8));
    return code;
  }

  @Test
  void forwardWithThreeWorkerProcessesWritesWhatOneWorkerWrites() throws Exception {
    String arch = "deepseek_v3";
    Path ckptDir = Fixtures.dir(arch);
    int layer = Fixtures.layer(arch);
    Path placementFile = dir.resolve("placement.json");
    try (Checkpoint ckpt = Checkpoint.open(ckptDir)) {
      GroupForwardTest.Reference ref = GroupForwardTest.reference(arch, ckpt, DType.F32);
      Placement p = GroupForwardTest.hotReplicas(ckpt.config().numLayers(), ckpt.config().numExperts(), 3,
          ref.result().routing().ids());
      PlacementJson.write(p, placementFile);
    }
    Path one = dir.resolve("one.safetensors");
    Path three = dir.resolve("three.safetensors");
    String input = Fixtures.expected(arch).toString();
    cli("forward", "--checkpoint", ckptDir.toString(), "--layer", Integer.toString(layer), "--input", input,
        "--out", one.toString(), "--backend", "cpu", "--threads", "1");
    cli("forward", "--checkpoint", ckptDir.toString(), "--layer", Integer.toString(layer), "--input", input,
        "--out", three.toString(), "--backend", "cpu", "--workers", "3", "--placement", placementFile.toString());
    try (SafetensorsFile a = SafetensorsFile.open(one);
        SafetensorsFile b = SafetensorsFile.open(three)) {
      float[] want = a.tensor("output").toFloats();
      float[] got = b.tensor("output").toFloats();
      assertTrue(Fixtures.maxAbsDiff(want, got) <= GroupForwardTest.REL * Fixtures.maxAbs(want),
          "max |diff| " + Fixtures.maxAbsDiff(want, got));
      assertArrayEquals(a.tensor("topk_ids").toLongs(), b.tensor("topk_ids").toLongs());
    }
  }

  @Test
  void workersStopGracefullyOnSigterm() throws Exception {
    String arch = "olmoe";
    ChildWorkers children = ChildWorkers.start(2, List.of("--checkpoint", Fixtures.dir(arch).toString(),
        "--backend", "cpu", "--threads", "1"), Duration.ofSeconds(120));
    List<Process> processes = children.processes();
    try (Checkpoint ckpt = Checkpoint.open(Fixtures.dir(arch));
        WorkerGroup group = WorkerGroup.connect(children.transportAddresses(), ckpt.config().hiddenSize(),
            Duration.ofSeconds(10))) {
      GroupForwardTest.Reference ref = GroupForwardTest.reference(arch, ckpt, DType.F32);
      float[] y = group.step(ref.x(), ref.tokens(), new int[] {Fixtures.layer(arch)}).join().y();
      assertTrue(Fixtures.maxAbsDiff(ref.result().output(), y)
          <= GroupForwardTest.REL * Fixtures.maxAbs(ref.result().output()));
    } finally {
      children.close();
    }
    for (Process p : processes) {
      assertTrue(p.waitFor(1, TimeUnit.SECONDS));
      assertFalse(p.isAlive());
      // 128 + SIGTERM: the JVM ran its shutdown hook and exited; 137 would mean it had to be killed.
      assertEquals(143, p.exitValue());
    }
  }
}

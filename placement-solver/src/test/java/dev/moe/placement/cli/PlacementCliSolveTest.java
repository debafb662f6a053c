package dev.moe.placement.cli;

import static dev.moe.placement.cli.PlacementCliTest.assertUserError;
import static dev.moe.placement.cli.PlacementCliTest.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.moe.RoutingData;
import dev.moe.placement.Placement;
import dev.moe.placement.PlacementJson;
import dev.moe.placement.PlacementReport;
import dev.moe.placement.cli.PlacementCliTest.Result;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The success paths of solve and evaluate: these run the real solver. */
class PlacementCliSolveTest {


  /** 3 layers x 8 experts, layer 0 dense. */
  static final String STATS = """
      {"logical_count": [[0, 0, 0, 0, 0, 0, 0, 0],
                         [90, 10, 20, 30, 40, 50, 60, 70],
                         [5, 80, 5, 40, 5, 30, 5, 20]]}
      """;

  @TempDir Path dir;

  Path stats() throws IOException {
    return Files.writeString(dir.resolve("stats.json"), STATS);
  }

  static Result solve(String... args) {
    List<String> all = new ArrayList<>(List.of("solve", "--time-limit", "2s", "--threads", "1"));
    all.addAll(List.of(args));
    return run(all.toArray(String[]::new));
  }

  @Test
  void solvesWritesAndSummarizes() throws IOException {
    Path out = dir.resolve("p.json");
    Path sglang = dir.resolve("sglang.json");
    Result r = solve("--stats", stats().toString(), "--gpus", "4", "--gpus-per-node", "2", "--slots-per-gpu", "3",
        "--out", out.toString(), "--sglang-out", sglang.toString());
    assertEquals(0, r.code(), r.err());
    assertEquals("", r.err());
    assertEquals(1, r.out().lines().count(), r.out());
    assertTrue(r.out().contains("balancedness"), r.out());
    assertTrue(r.out().contains(out.toString()), r.out());

    Placement placement = PlacementJson.read(out, 8, 0);
    assertEquals(3, placement.layers());
    assertEquals(12, placement.slots());
    assertEquals(4, placement.gpus());
    assertTrue(placement.report().balancedness() > 0 && placement.report().balancedness() <= 1);

    JsonNode sglangRoot = new ObjectMapper().readTree(sglang.toFile());
    assertEquals(1, sglangRoot.size());
    assertEquals(new ObjectMapper().readTree(out.toFile()).get("physical_to_logical_map"),
        sglangRoot.get("physical_to_logical_map"));
  }

  @Test
  void slotsFromMemory() throws IOException {
    Path out = dir.resolve("p.json");
    Result r = solve("--stats", stats().toString(), "--gpus", "4", "--gpus-per-node", "2",
        "--gpu-memory", "80GiB", "--expert-bytes", "20GiB", "--reserved-bytes", "20GiB", "--out", out.toString());
    assertEquals(0, r.code(), r.err());
    assertEquals(3, PlacementJson.read(out).slotsPerGpu());
  }

  @Test
  void replansAgainstCurrentWithinMoveBudget() throws IOException {
    Path first = dir.resolve("first.json");
    assertEquals(0, solve("--stats", stats().toString(), "--gpus", "4", "--gpus-per-node", "2", "--slots-per-gpu",
        "3", "--out", first.toString()).code());
    Path shifted = Files.writeString(dir.resolve("shifted.json"), """
        {"logical_count": [[0, 0, 0, 0, 0, 0, 0, 0],
                           [10, 90, 70, 30, 40, 50, 20, 60],
                           [80, 5, 5, 40, 5, 30, 5, 20]]}
        """);
    Path second = dir.resolve("second.json");
    Result r = solve("--stats", shifted.toString(), "--gpus", "4", "--gpus-per-node", "2", "--slots-per-gpu", "3",
        "--current", first.toString(), "--max-moves", "0", "--out", second.toString());
    assertEquals(0, r.code(), r.err());
    assertEquals(0, PlacementJson.read(second).report().replicasMoved());

    Path step = dir.resolve("step.json");
    r = solve("--stats", shifted.toString(), "--gpus", "4", "--gpus-per-node", "2", "--slots-per-gpu", "3",
        "--current", first.toString(), "--max-moves", "2", "--out", step.toString());
    assertEquals(0, r.code(), r.err());
    PlacementReport report = PlacementJson.read(step).report();
    assertTrue(report.replicasMoved() <= 2, "moved " + report.replicasMoved());
    assertTrue(report.targetBalancedness() >= report.balancedness(), "target " + report.targetBalancedness());
    assertTrue(r.out().contains(String.format(java.util.Locale.ROOT, ", a step towards %.4f",
        report.targetBalancedness())), r.out());
  }

  @Test
  void evaluatePrintsReportJson() throws IOException {
    Path out = dir.resolve("p.json");
    assertEquals(0, solve("--stats", stats().toString(), "--gpus", "4", "--gpus-per-node", "2", "--slots-per-gpu",
        "3", "--out", out.toString()).code());
    Result r = run("evaluate", "--stats", stats().toString(), "--placement", out.toString(), "--gpus-per-node", "2",
        "--current", out.toString());
    assertEquals(0, r.code(), r.err());
    JsonNode report = new ObjectMapper().readTree(r.out());
    assertEquals(7, report.size());
    assertEquals(0, report.get("replicas_moved").intValue());
    assertTrue(report.get("cross_gpu_transition_fraction").isNull());
    assertEquals(PlacementJson.read(out).report().balancedness(), report.get("balancedness").doubleValue(), 1e-12);
  }

  @Test
  void solvesOlmoeWithTransitions() {
    Path counts = RoutingData.routing("olmoe-crosslayer/olmoe__expert_counts__arxiv.json");
    Path pairs = RoutingData.routing("olmoe-crosslayer/olmoe__expert_counts_crosslayer__arxiv.json");
    Path out = dir.resolve("p.json");
    Result r = solve("--stats", counts.toString(), "--transitions", pairs.toString(), "--gpus", "8",
        "--gpus-per-node", "4", "--slots-per-gpu", "9", "--out", out.toString());
    assertEquals(0, r.code(), r.err());
    assertFalse(r.out().contains("cross-GPU transitions n/a"), r.out());
    assertFalse(Double.isNaN(PlacementJson.read(out).report().crossGpuTransitionFraction()));
  }

  @Test
  void outputDirectoryMissing() throws IOException {
    Path out = dir.resolve("no/such/dir/p.json");
    assertUserError(solve("--stats", stats().toString(), "--gpus", "4", "--gpus-per-node", "2", "--slots-per-gpu",
        "3", "--out", out.toString()), "cannot write " + out + ": no such file or directory");
  }
}

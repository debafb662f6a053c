package dev.moe.placement;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PlacementJsonTest {

  @TempDir Path dir;

  /** 2 layers, 3 experts, 2 GPUs x 2 slots; expert 0 of layer 0 and expert 1 of layer 1 have two replicas. */
  static Placement sample(PlacementReport report) {
    return new Placement(2,
        new int[][] {{0, 1, 2, 0}, {1, 2, 0, 1}},
        new double[][] {{0.25, 1.0, 1.0, 0.75}, {0.5, 1.0, 1.0, 0.5}},
        report);
  }

  static final PlacementReport REPORT = new PlacementReport(0.91, 0.95, 1 - 0.91 / 0.95, 0.4, 0.3, 7, 1.25);

  @Test
  void roundTrip() throws IOException {
    Placement written = sample(REPORT);
    Path file = dir.resolve("p.json");
    PlacementJson.write(written, file);
    Placement read = PlacementJson.read(file, 3, 0);
    assertEquals(2, read.slotsPerGpu());
    assertArrayEquals(written.physicalToLogical(), read.physicalToLogical());
    assertArrayEquals(written.replicaShares(), read.replicaShares());
    assertEquals(REPORT, read.report());
  }

  @Test
  void aStepOfAReplanPathCarriesItsTargetAndStaysOptionalForOlderFiles() throws IOException {
    PlacementReport step = REPORT.withTargetBalancedness(0.88);
    Path file = dir.resolve("p.json");
    PlacementJson.write(sample(step), file);
    JsonNode report = new ObjectMapper().readTree(file.toFile()).get("report");
    assertEquals(0.88, report.get("target_balancedness").doubleValue());
    assertEquals(step, PlacementJson.read(file).report());
    // A placement that is no step: the key is absent, as in files written before it existed.
    PlacementJson.write(sample(REPORT), file);
    assertTrue(!Files.readString(file).contains("target_balancedness"));
    assertTrue(Double.isNaN(PlacementJson.read(file).report().targetBalancedness()));
  }

  @Test
  void roundTripKeepsNaNAsNullAndNoReport() throws IOException {
    PlacementReport noTransitions = new PlacementReport(0.9, 1.0, 0.1, 0.2, Double.NaN, 0, 0.5);
    Path file = dir.resolve("p.json");
    PlacementJson.write(sample(noTransitions), file);
    JsonNode report = new ObjectMapper().readTree(file.toFile()).get("report");
    assertTrue(report.get("cross_gpu_transition_fraction").isNull());
    assertEquals(noTransitions, PlacementJson.read(file).report());

    PlacementJson.write(sample(null), file);
    assertNull(PlacementJson.read(file).report());
    assertTrue(!Files.readString(file).contains("report"));
  }

  @Test
  void physicalToLogicalMapIsSglangFormat() throws IOException {
    JsonNode root = new ObjectMapper().readTree(PlacementJson.toJson(sample(REPORT)));
    assertEquals("physical_to_logical_map", root.fieldNames().next());
    assertMapOfInts(root.get("physical_to_logical_map"), 2, 4);
    List<String> keys = new ArrayList<>();
    root.fieldNames().forEachRemaining(keys::add);
    assertEquals(List.of("physical_to_logical_map", "replica_shares", "slots_per_gpu", "report"), keys);
    assertEquals(List.of("balancedness", "balancedness_bound", "gap", "cross_node_fraction",
        "cross_gpu_transition_fraction", "replicas_moved", "solve_seconds"), fieldNames(root.get("report")));
    assertTrue(root.get("report").get("replicas_moved").isInt());
  }

  @Test
  void sglangFileHoldsOnlyTheMap() throws IOException {
    Path file = dir.resolve("sglang.json");
    PlacementJson.writeSglang(sample(REPORT), file);
    JsonNode root = new ObjectMapper().readTree(file.toFile());
    assertEquals(List.of("physical_to_logical_map"), fieldNames(root));
    assertMapOfInts(root.get("physical_to_logical_map"), 2, 4);
    Placement read = PlacementJson.read(file, 3, 2);
    assertEquals(2, read.gpus());
    assertArrayEquals(new double[] {0.5, 1, 1, 0.5}, read.replicaShares()[0]);
  }

  @Test
  void reportJsonHasTheReportKeys() throws IOException {
    JsonNode report = new ObjectMapper().readTree(PlacementJson.reportJson(REPORT));
    assertEquals(0.91, report.get("balancedness").doubleValue());
    assertEquals(7, report.get("replicas_moved").intValue());
    assertEquals(7, report.size());
  }

  @Test
  void absentSharesAreEqual() throws IOException {
    Placement read = PlacementJson.read(write("{\"physical_to_logical_map\": [[0, 1, 0, 0]], \"slots_per_gpu\": 2}"));
    assertArrayEquals(new double[] {1.0 / 3, 1, 1.0 / 3, 1.0 / 3}, read.replicaShares()[0]);
    assertNull(read.report());
  }

  // ---- bad placements ----

  @Test
  void missingOrUnreadableFile() {
    assertProblem(dir.resolve("missing.json"), 0, "no such file");
    assertProblem(dir, 0, "is a directory");
  }

  @Test
  void notJson() throws IOException {
    assertProblem(write("{\"physical_to_logical_map\": [[0, 1]"), 0, "not valid JSON at line 1");
    assertProblem(write("[[0, 1]]"), 0, "top level is an array");
  }

  @Test
  void missingMap() throws IOException {
    assertProblem(write("{\"slots_per_gpu\": 2}"), 0, "missing physical_to_logical_map");
    assertProblem(write("{\"physical_to_logical_map\": [], \"slots_per_gpu\": 2}"), 0, "physical_to_logical_map is empty");
    assertProblem(write("{\"physical_to_logical_map\": 3, \"slots_per_gpu\": 2}"), 0, "physical_to_logical_map is 3");
  }

  @Test
  void raggedMap() throws IOException {
    assertProblem(write("{\"physical_to_logical_map\": [[0, 1], [0, 1, 2]], \"slots_per_gpu\": 1}"), 0,
        "physical_to_logical_map row 1 has 3 slots, row 0 has 2");
  }

  @Test
  void expertIndexOutOfRangeOrNotAnInteger() throws IOException {
    assertProblem(write("{\"physical_to_logical_map\": [[0, 1, 3, 2]], \"slots_per_gpu\": 2}"), 3,
        "physical_to_logical_map[0][2] is 3, but there are 3 experts (0-2)");
    assertProblem(write("{\"physical_to_logical_map\": [[0, -1]], \"slots_per_gpu\": 2}"), 0,
        "physical_to_logical_map[0][1] is -1, must be >= 0");
    assertProblem(write("{\"physical_to_logical_map\": [[0, 1.5]], \"slots_per_gpu\": 2}"), 0,
        "physical_to_logical_map[0][1] is 1.5, not an expert index");
    assertProblem(write("{\"physical_to_logical_map\": [[0, \"1\"]], \"slots_per_gpu\": 2}"), 0,
        "physical_to_logical_map[0][1] is the string \"1\", not an expert index");
  }

  @Test
  void expertWithoutSlot() throws IOException {
    assertProblem(write("{\"physical_to_logical_map\": [[0, 1, 2, 0], [0, 1, 0, 1]], \"slots_per_gpu\": 2}"), 3,
        "physical_to_logical_map row 1 has no slot for expert 2");
  }

  @Test
  void slotsNotDivisibleBySlotsPerGpu() throws IOException {
    assertProblem(write("{\"physical_to_logical_map\": [[0, 1, 2]], \"slots_per_gpu\": 2}"), 0,
        "3 slots per layer, not a multiple of slots_per_gpu 2");
    assertProblem(write("{\"physical_to_logical_map\": [[0, 1]], \"slots_per_gpu\": 0}"), 0,
        "slots_per_gpu is 0, expected a whole number >= 1");
    assertProblem(write("{\"physical_to_logical_map\": [[0, 1]]}"), 0, "missing slots_per_gpu");
  }

  @Test
  void sharesShapeMismatch() throws IOException {
    assertProblem(write("""
        {"physical_to_logical_map": [[0, 1], [1, 0]], "replica_shares": [[1, 1]], "slots_per_gpu": 1}
        """), 0, "replica_shares has 1 rows, expected 2");
    assertProblem(write("""
        {"physical_to_logical_map": [[0, 1], [1, 0]], "replica_shares": [[1, 1], [1]], "slots_per_gpu": 1}
        """), 0, "replica_shares row 1 has 1 slots, expected 2");
  }

  @Test
  void badShares() throws IOException {
    assertProblem(write("""
        {"physical_to_logical_map": [[0, 0, 1]], "replica_shares": [[1.5, -0.5, 1]], "slots_per_gpu": 1}
        """), 0, "replica_shares[0][1] is -0.5, must be >= 0");
    assertProblem(write("""
        {"physical_to_logical_map": [[0, 0, 1]], "replica_shares": [[0.5, NaN, 1]], "slots_per_gpu": 1}
        """), 0, "replica_shares[0][1] is NaN");
    assertProblem(write("""
        {"physical_to_logical_map": [[0, 0, 1]], "replica_shares": [[0.5, 0.4, 1]], "slots_per_gpu": 1}
        """), 0, "replica_shares row 0: the shares of expert 0's slots sum to 0.9");
  }

  @Test
  void unknownFields() throws IOException {
    assertProblem(write("{\"physical_to_logical_map\": [[0]], \"slots_per_gpu\": 1, \"shares\": [[1]]}"), 0,
        "unknown field \"shares\"");
    assertProblem(write("""
        {"physical_to_logical_map": [[0]], "slots_per_gpu": 1, "report": {"balancedness": 1, "score": 2}}
        """), 0, "report: unknown field \"score\"");
  }

  @Test
  void badReport() throws IOException {
    assertProblem(write("""
        {"physical_to_logical_map": [[0]], "slots_per_gpu": 1, "report": {"balancedness": 1}}
        """), 0, "report is missing balancedness_bound");
    String almost = PlacementJson.toJson(sample(REPORT)).replace("\"replicas_moved\": 7", "\"replicas_moved\": 7.5");
    assertProblem(write(almost), 0, "report.replicas_moved is 7.5, expected a whole number >= 0");
  }

  private Path write(String json) throws IOException {
    return Files.writeString(dir.resolve("placement.json"), json);
  }

  private static void assertProblem(Path file, int experts, String fragment) {
    InvalidPlacementException e =
        assertThrows(InvalidPlacementException.class, () -> PlacementJson.read(file, experts, 0));
    String message = e.getMessage();
    assertTrue(message.startsWith(file + ": "), "message does not name the file: " + message);
    assertTrue(message.contains(fragment), "expected '" + fragment + "' in: " + message);
  }

  /** What Python's json.load gives as a list (layers) of lists (slots) of ints. */
  private static void assertMapOfInts(JsonNode map, int layers, int slots) {
    assertTrue(map.isArray());
    assertEquals(layers, map.size());
    for (JsonNode row : map) {
      assertTrue(row.isArray());
      assertEquals(slots, row.size());
      for (JsonNode v : row) {
        assertTrue(v.isInt(), "not an int: " + v);
      }
    }
  }

  private static List<String> fieldNames(JsonNode node) {
    List<String> names = new ArrayList<>();
    node.fieldNames().forEachRemaining(names::add);
    return names;
  }
}

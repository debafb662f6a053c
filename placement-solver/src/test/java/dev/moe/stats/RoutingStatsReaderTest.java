package dev.moe.stats;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.moe.RoutingData;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Arrays;
import java.util.Set;
import java.util.stream.DoubleStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RoutingStatsReaderTest {

  @TempDir Path dir;

  static Path data(String relative) {
    return RoutingData.routing(relative);
  }

  // ---- real files ----

  @Test
  void readsDeepSeekV3SglangDump() {
    RoutingStats stats = RoutingStatsReader.read(data("deepseek-v3-sglang/prefill_in1024.json"));
    assertEquals(61, stats.layers());
    assertEquals(256, stats.experts());
    int dense = 0;
    Double total = null;
    for (int l = 0; l < stats.layers(); l++) {
      if (stats.isDense(l)) {
        assertTrue(l < 3, "only layers 0-2 of DeepSeek-V3 are dense, layer " + l + " is all zero");
        dense++;
        continue;
      }
      double sum = DoubleStream.of(stats.load(l)).sum();
      if (total == null) {
        total = sum;
      }
      assertEquals(total, sum, "layer " + l + " routes a different number of (token, top-k) assignments");
    }
    assertEquals(3, dense);
    // top-8 routing: every MoE layer carries 8 assignments per token
    assertEquals(0, total % 8);
    assertTrue(stats.transitions().isEmpty());
    assertNull(stats.coactivation());
  }

  @Test
  void readsPerDomainFileWithMetadata() {
    RoutingStats stats = RoutingStatsReader.read(data("per-domain/olmoe-1b-7b-0924__arxiv.json"));
    assertEquals(16, stats.layers());
    assertEquals(64, stats.experts());
    double first = DoubleStream.of(stats.load(0)).sum();
    for (int l = 0; l < stats.layers(); l++) {
      assertEquals(first, DoubleStream.of(stats.load(l)).sum(), 0.0, "layer " + l);
    }
  }

  @Test
  void combinesOlmoeLayerCountsAndPairs() {
    RoutingStats stats = RoutingStatsReader.readLayerCounts(
        data("olmoe-crosslayer/olmoe__expert_counts__arxiv.json"),
        data("olmoe-crosslayer/olmoe__expert_counts_crosslayer__arxiv.json"));
    assertEquals(16, stats.layers());
    assertEquals(64, stats.experts());
    for (int l = 0; l < 16; l++) {
      assertEquals(l != 0 && l != 7 && l != 15, stats.isDense(l), "layer " + l);
    }
    assertEquals(Set.of(new LayerPair(0, 7), new LayerPair(7, 15)), stats.transitions().keySet());
    double[][] m = stats.transitions().get(new LayerPair(0, 7));
    assertEquals(64, m.length);
    assertEquals(64, m[0].length);
    // ranks are paired, so every (token, rank) of layer 0 appears once in the 0->7 matrix
    double pairs = Arrays.stream(m).flatMapToDouble(DoubleStream::of).sum();
    assertEquals(DoubleStream.of(stats.load(0)).sum(), pairs, 0.0);
  }

  @Test
  void readsLayerCountsDocumentAlone() {
    RoutingStats stats = RoutingStatsReader.read(data("olmoe-crosslayer/olmoe__expert_counts__book.json"));
    assertEquals(16, stats.layers());
    assertTrue(stats.transitions().isEmpty());
    assertTrue(stats.isDense(1));
    assertTrue(!stats.isDense(15));
  }

  @Test
  void readsMixtralCsvWithoutHeader() {
    RoutingStats stats =
        RoutingStatsReader.read(data("mixtral-8x7b/expert_activation_count_mixtral8x7b_32x8.csv"));
    assertEquals(32, stats.layers());
    assertEquals(8, stats.experts());
    assertEquals(21522, stats.load(0)[0]);
    for (int l = 0; l < 32; l++) {
      assertEquals(119_010, DoubleStream.of(stats.load(l)).sum(), 0.0, "layer " + l);
    }
  }

  @Test
  void mergesMixtralPairsIntoCsvCounts() {
    RoutingStats stats = RoutingStatsReader.readLayerCounts(
        data("mixtral-8x7b/expert_activation_count_mixtral8x7b_32x8.csv"),
        data("olmoe-crosslayer/mistral__expert_counts_crosslayer__github.json"));
    assertEquals(Set.of(new LayerPair(0, 7), new LayerPair(7, 15)), stats.transitions().keySet());
    assertEquals(8, stats.transitions().get(new LayerPair(7, 15)).length);
  }

  // ---- small valid documents ----

  @Test
  void readsTransitionsAndCoactivation() throws IOException {
    RoutingStats stats = RoutingStatsReader.read(write("stats.json", """
        {"logical_count": [[1, 2.0], [3, 4]],
         "transitions": {"0->1": [[1, 0], [0, 1]]},
         "coactivation": [[[0, 1], [1, 0]], [[0, 2], [2, 0]]],
         "model": "m", "top_k": 1, "domain": "d", "layers_note": "n"}
        """));
    assertArrayEquals(new double[] {1, 2}, stats.load(0));
    assertArrayEquals(new double[] {0, 1}, stats.transitions().get(new LayerPair(0, 1))[1]);
    assertEquals(2.0, stats.coactivation()[1][0][1]);
  }

  @Test
  void layerCountsFillsUnrecordedLayersWithZeros() throws IOException {
    RoutingStats stats = RoutingStatsReader.read(write("counts.json", """
        {"layer_counts": {"3": [1, 2], "1": [5, 6]}}
        """));
    assertEquals(4, stats.layers());
    assertTrue(stats.isDense(0));
    assertTrue(stats.isDense(2));
    assertArrayEquals(new double[] {1, 2}, stats.load(3));
  }

  // ---- every bad input: one message naming the file, the problem and where ----

  @Test
  void missingFile() {
    Path missing = dir.resolve("nope.json");
    assertProblem(missing, "no such file");
  }

  @Test
  void directoryInsteadOfFile() {
    assertProblem(dir, "is a directory");
  }

  @Test
  void unreadableFile() throws IOException {
    Path file = write("stats.json", "{\"logical_count\": [[1]]}");
    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("---------"));
    assumeTrue(!Files.isReadable(file), "running as a user who reads every file (root)");
    assertProblem(file, "permission denied");
  }

  @Test
  void notJson() throws IOException {
    assertProblem(write("stats.json", "{\"logical_count\": [[1, 2]"), "not valid JSON at line 1");
    assertProblem(write("stats.json", "logical_count = 3"), "not valid JSON");
    assertProblem(write("stats.json", ""), "is empty");
    assertProblem(write("stats.json", "[[1, 2]]"), "top level is an array, expected a JSON object");
    assertProblem(write("stats.json", "{\"logical_count\": [[1]]} {}"), "not valid JSON");
  }

  @Test
  void duplicateKey() throws IOException {
    assertProblem(write("stats.json", "{\"logical_count\": [[1]], \"logical_count\": [[2]]}"),
        "not valid JSON", "logical_count");
  }

  @Test
  void missingLogicalCount() throws IOException {
    assertProblem(write("stats.json", "{\"model\": \"x\"}"), "missing logical_count");
  }

  @Test
  void emptyMatrix() throws IOException {
    assertProblem(write("stats.json", "{\"logical_count\": []}"), "logical_count is empty");
    assertProblem(write("stats.json", "{\"logical_count\": [[]]}"), "logical_count row 0 is empty");
    assertProblem(write("stats.json", "{\"logical_count\": {}}"), "logical_count is an object");
  }

  @Test
  void raggedRows() throws IOException {
    assertProblem(write("stats.json", "{\"logical_count\": [[1, 2, 3], [1, 2, 3], [1, 2]]}"),
        "logical_count row 2 has 2 experts, row 0 has 3");
  }

  @Test
  void nonNumeric() throws IOException {
    assertProblem(write("stats.json", "{\"logical_count\": [[1, \"7\"]]}"),
        "logical_count[0][1] is the string \"7\", not a number");
    assertProblem(write("stats.json", "{\"logical_count\": [[1, null]]}"), "logical_count[0][1] is null");
    assertProblem(write("stats.json", "{\"logical_count\": [[1], 2]}"), "logical_count row 1 is 2, expected an array");
    assertProblem(write("stats.json", "{\"logical_count\": [[1, true]]}"), "logical_count[0][1] is true");
  }

  @Test
  void negative() throws IOException {
    assertProblem(write("stats.json", "{\"logical_count\": [[1, 2], [3, -4]]}"),
        "logical_count[1][1] is -4, must be >= 0");
  }

  @Test
  void nanAndInfinity() throws IOException {
    assertProblem(write("stats.json", "{\"logical_count\": [[1, NaN]]}"), "logical_count[0][1] is NaN");
    assertProblem(write("stats.json", "{\"logical_count\": [[Infinity, 1]]}"), "logical_count[0][0] is Infinity");
    assertProblem(write("stats.json", "{\"logical_count\": [[1, -Infinity]]}"), "logical_count[0][1] is -Infinity");
    assertProblem(write("stats.json", "{\"logical_count\": [[1e999]]}"), "logical_count[0][0] is Infinity");
  }

  @Test
  void transitionsNotExpertsByExperts() throws IOException {
    assertProblem(write("stats.json", """
        {"logical_count": [[1, 2, 3], [1, 2, 3]], "transitions": {"0->1": [[1, 2], [3, 4]]}}
        """), "transitions[\"0->1\"] has 2 rows, expected 3");
    assertProblem(write("stats.json", """
        {"logical_count": [[1, 2], [1, 2]], "transitions": {"0->1": [[1, 2], [3]]}}
        """), "transitions[\"0->1\"] row 1 has 1 entries, expected 2");
    assertProblem(write("stats.json", """
        {"logical_count": [[1, 2], [1, 2]], "transitions": {"0->1": [[1, 2], [3, -1]]}}
        """), "transitions[\"0->1\"][1][1] is -1, must be >= 0");
  }

  @Test
  void transitionsPairOutOfRange() throws IOException {
    assertProblem(write("stats.json", """
        {"logical_count": [[1, 2], [1, 2]], "transitions": {"0->5": [[1, 2], [3, 4]]}}
        """), "transitions pair 0->5 names layer 5, but the statistics have 2 layers");
    assertProblem(write("stats.json", """
        {"logical_count": [[1, 2], [1, 2]], "transitions": {"0-1": [[1, 2], [3, 4]]}}
        """), "transitions: layer pair '0-1' is not of the form FROM->TO");
    assertProblem(write("stats.json", """
        {"logical_count": [[1, 2], [1, 2]], "transitions": {"1->1": [[1, 2], [3, 4]]}}
        """), "transitions: layer pair 1->1 must name two different layers");
    assertProblem(write("stats.json", """
        {"logical_count": [[1, 2], [1, 2]], "transitions": {"0->1": [[1, 2], [3, 4]], " 0->1": [[1, 2], [3, 4]]}}
        """), "names pair 0->1 twice");
    assertProblem(write("stats.json", """
        {"logical_count": [[1, 2], [1, 2]], "transitions": {}, "pairs": {}}
        """), "has both transitions and pairs");
  }

  @Test
  void coactivationShapeMismatch() throws IOException {
    assertProblem(write("stats.json", """
        {"logical_count": [[1, 2], [1, 2]], "coactivation": [[[0, 1], [1, 0]]]}
        """), "coactivation has 1 layers, logical_count has 2");
    assertProblem(write("stats.json", """
        {"logical_count": [[1, 2], [1, 2]], "coactivation": [[[0, 1], [1, 0]], [[0, 1, 2], [1, 0, 2]]]}
        """), "coactivation[1] row 0 has 3 entries, expected 2");
  }

  @Test
  void unknownField() throws IOException {
    assertProblem(write("stats.json", "{\"logical_count\": [[1]], \"logical_counts\": [[1]]}"),
        "unknown field \"logical_counts\"");
  }

  @Test
  void numExpertsDisagrees() throws IOException {
    assertProblem(write("stats.json", "{\"logical_count\": [[1, 2]], \"num_experts\": 3}"),
        "num_experts is 3, but the counts have 2 experts");
  }

  @Test
  void badLayerCounts() throws IOException {
    assertProblem(write("counts.json", "{\"layer_counts\": {\"x\": [1]}}"), "layer_counts key \"x\" is not a layer index");
    assertProblem(write("counts.json", "{\"layer_counts\": {\"-1\": [1]}}"), "layer_counts key \"-1\" is not a layer index");
    assertProblem(write("counts.json", "{\"layer_counts\": {\"0\": [1, 2], \"7\": [1]}}"),
        "layer_counts[\"7\"] has 1 experts, layer_counts[\"0\"] has 2");
    assertProblem(write("counts.json", "{\"layer_counts\": {}}"), "layer_counts is empty");
    assertProblem(write("counts.json", "{\"layer_counts\": {\"0\": [1, NaN]}}"), "layer_counts[\"0\"][1] is NaN");
    assertProblem(write("counts.json", "{\"layer_counts\": {\"0\": [1]}, \"logical_count\": [[1]]}"),
        "both logical_count and layer_counts");
  }

  @Test
  void badPairsFile() throws IOException {
    Path counts = write("counts.json", "{\"layer_counts\": {\"0\": [1, 2], \"3\": [3, 4]}}");
    Path outOfRange = write("pairs.json", "{\"pairs\": {\"3->4\": [[1, 0], [0, 1]]}}");
    assertPairsProblem(counts, outOfRange, "pairs pair 3->4 names layer 4, but the statistics have 4 layers");
    Path wrongShape = write("pairs.json", "{\"pairs\": {\"0->3\": [[1, 0, 0], [0, 1, 0], [0, 0, 1]]}}");
    assertPairsProblem(counts, wrongShape, "pairs[\"0->3\"] has 3 rows, expected 2");
    Path noPairs = write("pairs.json", "{\"model\": \"olmoe\"}");
    assertPairsProblem(counts, noPairs, "missing pairs");
    Path unknown = write("pairs.json", "{\"pairs\": {}, \"pair\": {}}");
    assertPairsProblem(counts, unknown, "unknown field \"pair\"");
    Path withPairs = write("both.json", "{\"logical_count\": [[1, 2], [3, 4]], \"transitions\": {\"0->1\": [[1, 0], [0, 1]]}}");
    Path again = write("pairs.json", "{\"pairs\": {\"0->1\": [[1, 0], [0, 1]]}}");
    assertPairsProblem(withPairs, again, "pair 0->1 is already in the statistics");
  }

  @Test
  void badCsv() throws IOException {
    assertProblem(write("stats.csv", "1,2,3\n4,5\n"), "line 2 has 2 columns, line 1 has 3");
    assertProblem(write("stats.csv", "1,2\n3,x\n"), "line 2, column 2 is \"x\", not a number");
    assertProblem(write("stats.csv", "1,2\n3,-4\n"), "line 2, column 2 is -4, must be >= 0");
    assertProblem(write("stats.csv", "1,NaN\n"), "line 1, column 2 is NaN");
    assertProblem(write("stats.csv", "\n\n"), "has no rows");
    assertProblem(write("stats.csv", "expert_0,expert_1\n1,2\n"), "line 1, column 1 is \"expert_0\", not a number");
  }

  @Test
  void csvSkipsBlankLinesAndByteOrderMark() throws IOException {
    RoutingStats stats = RoutingStatsReader.read(write("stats.csv", "\uFEFF1, 2\r\n\r\n3,4\r\n\r\n"));
    assertEquals(2, stats.layers());
    assertArrayEquals(new double[] {3, 4}, stats.load(1));
  }

  private Path write(String name, String content) throws IOException {
    return Files.writeString(dir.resolve(name), content);
  }

  private static void assertProblem(Path file, String... fragments) {
    InvalidStatsException e = assertThrows(InvalidStatsException.class, () -> RoutingStatsReader.read(file));
    assertMessage(e, file, fragments);
  }

  private static void assertPairsProblem(Path counts, Path pairs, String... fragments) {
    InvalidStatsException e =
        assertThrows(InvalidStatsException.class, () -> RoutingStatsReader.readLayerCounts(counts, pairs));
    assertMessage(e, pairs, fragments);
  }

  private static void assertMessage(InvalidStatsException e, Path file, String... fragments) {
    String message = e.getMessage();
    assertTrue(message.startsWith(file + ": "), "message does not name the file: " + message);
    assertTrue(!message.contains("\n"), "message is not one line: " + message);
    for (String fragment : fragments) {
      assertTrue(message.contains(fragment), "expected '" + fragment + "' in: " + message);
    }
  }
}

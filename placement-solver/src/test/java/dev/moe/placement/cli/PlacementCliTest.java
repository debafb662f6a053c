package dev.moe.placement.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine.TypeConversionException;

/** Every user mistake ends with exit code 2 and one error line; none of these reach the solver. */
class PlacementCliTest {

  @TempDir Path dir;

  /** 2 layers x 4 experts. */
  static final String STATS = "{\"logical_count\": [[10, 20, 30, 40], [5, 5, 5, 5]]}";

  record Result(int code, String out, String err) {}

  static Result run(String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int code = PlacementCli.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8));
    return new Result(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }

  /** Exit code 2, exactly one line on stderr, that line says the problem, no stack trace. */
  static void assertUserError(Result r, String... fragments) {
    assertEquals(2, r.code(), "exit code; stderr: " + r.err());
    String err = r.err();
    assertTrue(err.startsWith("placement-solver: error: "), "stderr: " + err);
    assertTrue(err.endsWith("\n") && err.indexOf('\n') == err.length() - 1, "not one line: " + err);
    assertFalse(err.contains("Exception"), "stderr names an exception: " + err);
    assertFalse(err.contains("\tat "), "stack trace: " + err);
    for (String fragment : fragments) {
      assertTrue(err.contains(fragment), "expected '" + fragment + "' in: " + err);
    }
  }

  Path file(String name, String content) throws IOException {
    return Files.writeString(dir.resolve(name), content);
  }

  List<String> solve(Path stats, String... more) {
    List<String> args = new ArrayList<>(List.of("solve", "--stats", stats.toString(), "--out",
        dir.resolve("p.json").toString(), "--time-limit", "1s", "--threads", "1"));
    args.addAll(List.of(more));
    return args;
  }

  Result solveWith(Path stats, String... more) {
    return run(solve(stats, more).toArray(String[]::new));
  }

  // ---- bad statistics ----

  @Test
  void raggedMatrix() throws IOException {
    Path stats = file("stats.json", "{\"logical_count\": [[1, 2, 3], [1, 2]]}");
    assertUserError(solveWith(stats, "--gpus", "2", "--gpus-per-node", "2", "--slots-per-gpu", "2"),
        stats + ": logical_count row 1 has 2 experts, row 0 has 3");
  }

  @Test
  void negativeCount() throws IOException {
    Path stats = file("stats.json", "{\"logical_count\": [[1, -2]]}");
    assertUserError(solveWith(stats, "--gpus", "2", "--gpus-per-node", "2", "--slots-per-gpu", "2"),
        "logical_count[0][1] is -2, must be >= 0");
  }

  @Test
  void nanCount() throws IOException {
    Path stats = file("stats.json", "{\"logical_count\": [[1, NaN]]}");
    assertUserError(solveWith(stats, "--gpus", "2", "--gpus-per-node", "2", "--slots-per-gpu", "2"),
        "logical_count[0][1] is NaN");
  }

  @Test
  void unknownField() throws IOException {
    Path stats = file("stats.json", "{\"logical_count\": [[1, 2]], \"extra\": 1}");
    assertUserError(solveWith(stats, "--gpus", "2", "--gpus-per-node", "2", "--slots-per-gpu", "2"),
        "unknown field \"extra\"");
  }

  @Test
  void unreadableFile() {
    Path missing = dir.resolve("missing.json");
    assertUserError(solveWith(missing, "--gpus", "2", "--gpus-per-node", "2", "--slots-per-gpu", "2"),
        missing + ": no such file");
    assertUserError(solveWith(dir, "--gpus", "2", "--gpus-per-node", "2", "--slots-per-gpu", "2"),
        "is a directory");
  }

  @Test
  void notJson() throws IOException {
    Path stats = file("stats.json", "{\"logical_count\": [[1, 2]]");
    assertUserError(solveWith(stats, "--gpus", "2", "--gpus-per-node", "2", "--slots-per-gpu", "2"),
        "not valid JSON");
  }

  @Test
  void badTransitionsFile() throws IOException {
    Path stats = file("stats.json", STATS);
    Path pairs = file("pairs.json", "{\"pairs\": {\"0->9\": [[1]]}}");
    assertUserError(solveWith(stats, "--gpus", "2", "--gpus-per-node", "2", "--slots-per-gpu", "2",
        "--transitions", pairs.toString()), "pairs pair 0->9 names layer 9");
  }

  // ---- bad cluster shape and options ----

  @Test
  void fewerSlotsThanExperts() throws IOException {
    Path stats = file("stats.json", STATS);
    assertUserError(solveWith(stats, "--gpus", "1", "--gpus-per-node", "1", "--slots-per-gpu", "3"),
        "3 slots cannot hold the 4 experts");
  }

  @Test
  void gpusNotDivisibleByGpusPerNode() throws IOException {
    Path stats = file("stats.json", STATS);
    assertUserError(solveWith(stats, "--gpus", "6", "--gpus-per-node", "4", "--slots-per-gpu", "2"),
        "--gpus-per-node (4) must be at least 1 and divide --gpus (6)");
  }

  @Test
  void missingRequiredOption() throws IOException {
    Path stats = file("stats.json", STATS);
    assertUserError(run("solve", "--stats", stats.toString(), "--gpus", "2", "--slots-per-gpu", "2"),
        "Missing required option", "--gpus-per-node", "--out");
  }

  @Test
  void slotsPerGpuTogetherWithGpuMemory() throws IOException {
    Path stats = file("stats.json", STATS);
    assertUserError(solveWith(stats, "--gpus", "2", "--gpus-per-node", "2", "--slots-per-gpu", "2",
        "--gpu-memory", "80GiB", "--expert-bytes", "1GiB"), "either --slots-per-gpu or --gpu-memory");
  }

  @Test
  void neitherSlotsPerGpuNorGpuMemory() throws IOException {
    Path stats = file("stats.json", STATS);
    assertUserError(solveWith(stats, "--gpus", "2", "--gpus-per-node", "2"), "missing --slots-per-gpu");
    assertUserError(solveWith(stats, "--gpus", "2", "--gpus-per-node", "2", "--gpu-memory", "80GiB"),
        "--gpu-memory and --expert-bytes go together");
  }

  @Test
  void memoryThatHoldsNoExpert() throws IOException {
    Path stats = file("stats.json", STATS);
    assertUserError(solveWith(stats, "--gpus", "2", "--gpus-per-node", "2", "--gpu-memory", "10GiB",
        "--expert-bytes", "4GiB", "--reserved-bytes", "8GiB"), "holds no expert");
    assertUserError(solveWith(stats, "--gpus", "2", "--gpus-per-node", "2", "--gpu-memory", "10GiB",
        "--expert-bytes", "1GiB", "--reserved-bytes", "20GiB"), "GPU memory must exceed the reserve");
  }

  @Test
  void badValues() throws IOException {
    Path stats = file("stats.json", STATS);
    assertUserError(solveWith(stats, "--gpus", "two", "--gpus-per-node", "2", "--slots-per-gpu", "2"),
        "--gpus", "'two'");
    assertUserError(solveWith(stats, "--gpus", "2", "--gpus-per-node", "2", "--slots-per-gpu", "2",
        "--time-limit", "soon"), "'soon' is not a duration");
    assertUserError(solveWith(stats, "--gpus", "2", "--gpus-per-node", "2", "--slots-per-gpu", "2",
        "--time-limit", "0s"), "must be positive");
    assertUserError(solveWith(stats, "--gpus", "2", "--gpus-per-node", "2", "--slots-per-gpu", "0"),
        "--slots-per-gpu must be at least 1");
    assertUserError(solveWith(stats, "--gpus", "2", "--gpus-per-node", "2", "--slots-per-gpu", "2",
        "--affinity-weight", "-1"), "objective weights must be finite and >= 0");
    assertUserError(solveWith(stats, "--gpus", "2", "--gpus-per-node", "2", "--slots-per-gpu", "2",
        "--inter-node-cost", "0.5"), "inter-node cost must be a finite number >= 1");
    assertUserError(solveWith(stats, "--gpus", "2", "--gpus-per-node", "2", "--slots-per-gpu", "2",
        "--gpu-memory", "lots"), "'lots' is not a byte count");
  }

  @Test
  void unknownOptionAndCommand() throws IOException {
    Path stats = file("stats.json", STATS);
    assertUserError(solveWith(stats, "--gpus", "2", "--gpus-per-node", "2", "--slots-per-gpu", "2", "--fast"),
        "Unknown option", "--fast");
    assertUserError(run("place"), "place");
    assertUserError(run(), "missing command");
  }

  @Test
  void maxMovesNeedsCurrent() throws IOException {
    Path stats = file("stats.json", STATS);
    assertUserError(solveWith(stats, "--gpus", "2", "--gpus-per-node", "2", "--slots-per-gpu", "2",
        "--max-moves", "3"), "--max-moves needs --current");
  }

  // ---- current placement that does not fit ----

  @Test
  void currentPlacementWithOtherExpertCount() throws IOException {
    Path stats = file("stats.json", STATS);
    Path current = file("current.json",
        "{\"physical_to_logical_map\": [[0, 1, 2, 5], [0, 1, 2, 3]], \"slots_per_gpu\": 2}");
    assertUserError(solveWith(stats, "--gpus", "2", "--gpus-per-node", "2", "--slots-per-gpu", "2",
        "--current", current.toString()), current + ": physical_to_logical_map[0][3] is 5, but there are 4 experts");
  }

  @Test
  void currentPlacementWithOtherShape() throws IOException {
    Path stats = file("stats.json", STATS);
    Path layers = file("layers.json", "{\"physical_to_logical_map\": [[0, 1, 2, 3]], \"slots_per_gpu\": 2}");
    assertUserError(solveWith(stats, "--gpus", "2", "--gpus-per-node", "2", "--slots-per-gpu", "2",
        "--current", layers.toString()), "has 1 layers, but");
    Path gpus = file("gpus.json",
        "{\"physical_to_logical_map\": [[0, 1, 2, 3, 0, 1], [0, 1, 2, 3, 0, 1]], \"slots_per_gpu\": 2}");
    assertUserError(solveWith(stats, "--gpus", "2", "--gpus-per-node", "2", "--slots-per-gpu", "2",
        "--current", gpus.toString()), "is for 3 GPUs x 2 slots, but the cluster is 2 GPUs x 2");
  }

  // ---- evaluate and bench ----

  @Test
  void evaluateBadPlacement() throws IOException {
    Path stats = file("stats.json", STATS);
    Path placement = file("p.json", "{\"physical_to_logical_map\": [[0, 1, 2, 3], [0, 1, 2]], \"slots_per_gpu\": 2}");
    assertUserError(run("evaluate", "--stats", stats.toString(), "--placement", placement.toString(),
        "--gpus-per-node", "2"), "row 1 has 3 slots, row 0 has 4");
  }

  @Test
  void evaluatePlacementThatNodesDoNotDivide() throws IOException {
    Path stats = file("stats.json", STATS);
    Path placement = file("p.json",
        "{\"physical_to_logical_map\": [[0, 1, 2, 3, 0, 1], [0, 1, 2, 3, 0, 1]], \"slots_per_gpu\": 2}");
    assertUserError(run("evaluate", "--stats", stats.toString(), "--placement", placement.toString(),
        "--gpus-per-node", "2"), "is for 3 GPUs, which --gpus-per-node 2 does not divide");
  }

  @Test
  void evaluatePlacementWithOtherLayerCount() throws IOException {
    Path stats = file("stats.json", STATS);
    Path placement = file("p.json", "{\"physical_to_logical_map\": [[0, 1, 2, 3]], \"slots_per_gpu\": 2}");
    assertUserError(run("evaluate", "--stats", stats.toString(), "--placement", placement.toString(),
        "--gpus-per-node", "1"), "has 1 layers, but");
  }

  @Test
  void benchWithoutData() {
    assertUserError(run("bench", "--data", dir.resolve("none").toString()), "is not a directory");
  }

  @Test
  void helpOnEveryCommand() {
    for (String command : new String[] {"solve", "evaluate", "bench"}) {
      Result r = run(command, "--help");
      assertEquals(0, r.code(), command);
      assertTrue(r.out().contains("Usage: placement-solver " + command), r.out());
      assertEquals("", r.err());
    }
    Result top = run("--help");
    assertEquals(0, top.code());
    assertTrue(top.out().contains("solve") && top.out().contains("evaluate") && top.out().contains("bench"));
  }

  @Test
  void helpShowsSolverDefaults() {
    String help = run("solve", "--help").out();
    assertTrue(help.contains("(default: 10s)"), help);
    assertTrue(help.contains("(default: 4.0)"), help);
  }

  // ---- option value types and data discovery ----

  @Test
  void durations() {
    Converters.DurationConverter c = new Converters.DurationConverter();
    assertEquals(Duration.ofSeconds(10), c.convert("10s"));
    assertEquals(Duration.ofMillis(500), c.convert("500ms"));
    assertEquals(Duration.ofMinutes(2), c.convert("2m"));
    assertEquals(Duration.ofSeconds(30), c.convert("30"));
    assertEquals(Duration.ofMillis(2500), c.convert("2.5"));
    assertThrows(TypeConversionException.class, () -> c.convert("-1s"));
    assertThrows(TypeConversionException.class, () -> c.convert("10 parsecs"));
  }

  @Test
  void byteSizes() {
    Converters.ByteSizeConverter c = new Converters.ByteSizeConverter();
    assertEquals(85_899_345_920L, c.convert("85899345920"));
    assertEquals(80L << 30, c.convert("80GiB"));
    assertEquals(80L << 30, c.convert("80Gi"));
    assertEquals(512_000_000L, c.convert("512MB"));
    assertEquals(2_000L, c.convert("2k"));
    assertThrows(TypeConversionException.class, () -> c.convert("99999999999TiB"));
  }

  @Test
  void findsTheRepositorysDataFromAnyDirectoryInside() throws IOException {
    Path data = Files.createDirectories(dir.resolve("checkout/data/routing"));
    Path deep = Files.createDirectories(dir.resolve("checkout/module/sub"));
    assertEquals(data, BenchCommand.defaultData(deep));
    assertEquals(data, BenchCommand.defaultData(dir.resolve("checkout")));
    assertEquals(data, BenchCommand.defaultData(data));
  }

  @Test
  void noRoutingDataAnywhere() {
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> BenchCommand.defaultData(Path.of("/")));
    assertTrue(e.getMessage().contains("give --data DIR"));
  }
}

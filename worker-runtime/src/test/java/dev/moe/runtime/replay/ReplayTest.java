package dev.moe.runtime.replay;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moe.placement.PlacementJson;
import dev.moe.runtime.cli.WorkerCli;
import dev.moe.runtime.rebalance.Placements;
import dev.moe.stats.RoutingStats;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ReplayTest {

  /** The repository's routing data (Surefire runs in the module directory). */
  static Path routingData(String relative) {
    Path file = Path.of("").toAbsolutePath().resolve("../data/routing").resolve(relative).normalize();
    assertTrue(Files.isRegularFile(file), "routing data missing: " + file);
    return file;
  }

  @Test
  void drawnRoutingFollowsTheCountsWithDistinctExpertsPerToken() {
    double[][] counts = {{0, 0, 0, 0}, {10, 20, 30, 40}};
    TraceGenerator gen = new TraceGenerator(RoutingStats.ofCounts(counts), new int[] {1}, 2, 7);
    int tokens = 20_000;
    int[] ids = new int[tokens * 2];
    float[] weights = new float[tokens * 2];
    gen.draw(0, tokens, ids, weights);
    long[] seen = new long[4];
    for (int t = 0; t < tokens; t++) {
      assertTrue(ids[2 * t] != ids[2 * t + 1], "token " + t + " chose one expert twice");
      assertEquals(1.0, weights[2 * t] + weights[2 * t + 1], 1e-6);
      seen[ids[2 * t]]++;
      seen[ids[2 * t + 1]]++;
    }
    // Without replacement the hottest expert is capped at one choice per token, so shares are
    // flattened a little: the order is kept, and each is near its count's share.
    for (int e = 0; e < 3; e++) {
      assertTrue(seen[e] < seen[e + 1], Arrays.toString(seen));
    }
    assertEquals(0.4, seen[3] / (2.0 * tokens), 0.06);
    assertEquals(0.1, seen[0] / (2.0 * tokens), 0.06);
    assertTrue(Set.of(0, 1, 2, 3).containsAll(new HashSet<>(Arrays.stream(ids).boxed().toList())));
  }

  @Test
  void replayOfDeepSeekDecodePrintsThePlacementAndEplbSideBySide(@TempDir Path dir) throws Exception {
    Path stats = routingData("deepseek-v3-sglang/decode_in1000out1000.json");
    Path placement = dir.resolve("round-robin.json");
    // A placement that ignores the load: EPLB, fitted to the statistics, must balance better.
    PlacementJson.write(Placements.roundRobin(61, 256, 4), placement);
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int code = WorkerCli.run(new String[] {"replay", "--workers", "4", "--stats", stats.toString(), "--placement",
        placement.toString(), "--baseline", "eplb", "--layers", "3,40", "--tokens-per-step", "64", "--steps", "3",
        "--warmup", "1", "--rounds", "1", "--hidden", "32", "--inter", "16"},
        new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
    String text = out.toString(StandardCharsets.UTF_8);
    System.out.print(text);
    assertEquals(0, code, err.toString(StandardCharsets.UTF_8));
    double[] rr = row(text, "round-robin.json");
    double[] eplb = row(text, "eplb");
    // Columns: step p50, step p90, slowest p50, max/mean measured, max/mean expected.
    assertTrue(rr[3] >= 1 && eplb[3] >= 1);
    assertTrue(eplb[4] < rr[4], "EPLB's expected max/mean " + eplb[4] + " vs round robin's " + rr[4]);
    assertTrue(eplb[4] < 1.05, "EPLB on its own statistics: " + eplb[4]);
  }

  private static double[] row(String text, String name) {
    Matcher m = Pattern.compile("(?m)^" + Pattern.quote(name)
        + "\\s+([\\d.]+)ms\\s+([\\d.]+)ms\\s+([\\d.]+)ms\\s+([\\d.]+)\\s+([\\d.]+)").matcher(text);
    assertTrue(m.find(), "no row for " + name + " in:\n" + text);
    double[] v = new double[5];
    for (int i = 0; i < 5; i++) {
      v[i] = Double.parseDouble(m.group(i + 1));
    }
    return v;
  }
}

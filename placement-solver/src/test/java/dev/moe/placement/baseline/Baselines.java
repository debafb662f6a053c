package dev.moe.placement.baseline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.moe.RoutingData;
import dev.moe.placement.ClusterSpec;
import dev.moe.placement.Placement;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/**
 * Test support for the baselines: the shared DeepSeek-V3 statistics, read here with Jackson's tree
 * model so that these tests depend on no reader under test, the placement invariants, and
 * balancedness.
 */
final class Baselines {

  private static final Path DEEPSEEK = RoutingData.ROUTING.resolve("deepseek-v3-sglang");

  private Baselines() {}

  /** The six DeepSeek-V3 files, sorted. */
  static List<Path> deepSeekFiles() throws IOException {
    try (Stream<Path> files = Files.list(DEEPSEEK)) {
      return files.filter(f -> f.toString().endsWith(".json")).sorted().toList();
    }
  }

  static Path deepSeekFile(String name) {
    return RoutingData.routing("deepseek-v3-sglang/" + name);
  }

  /** {@code logical_count}, [layers][experts]. */
  static double[][] logicalCount(Path file) throws IOException {
    JsonNode rows = new ObjectMapper().readTree(file.toFile()).required("logical_count");
    double[][] counts = new double[rows.size()][];
    for (int l = 0; l < rows.size(); l++) {
      JsonNode row = rows.get(l);
      counts[l] = new double[row.size()];
      for (int e = 0; e < row.size(); e++) {
        counts[l][e] = row.get(e).asDouble();
      }
    }
    return counts;
  }

  /**
   * Sum over MoE layers of mean GPU load / sum over MoE layers of max GPU load, where a GPU's load
   * is the sum over its slots of share x expert weight; all-zero (dense) layers are skipped.
   */
  static double balancedness(double[][] counts, Placement placement) {
    int slotsPerGpu = placement.slotsPerGpu();
    double meanSum = 0;
    double maxSum = 0;
    for (int l = 0; l < counts.length; l++) {
      if (isDense(counts[l])) {
        continue;
      }
      int[] map = placement.physicalToLogical()[l];
      double[] shares = placement.replicaShares()[l];
      double[] gpuLoad = new double[map.length / slotsPerGpu];
      for (int s = 0; s < map.length; s++) {
        gpuLoad[s / slotsPerGpu] += shares[s] * counts[l][map[s]];
      }
      double total = 0;
      double max = 0;
      for (double load : gpuLoad) {
        total += load;
        max = Math.max(max, load);
      }
      meanSum += total / gpuLoad.length;
      maxSum += max;
    }
    return meanSum / maxSum;
  }

  /**
   * Every layer maps every slot to an expert, every expert has a replica, every GPU has exactly
   * its slots, and each expert's shares sum to 1.
   */
  static void assertValid(Placement placement, ClusterSpec cluster, int layers, int experts) {
    assertEquals(cluster.slotsPerGpu(), placement.slotsPerGpu());
    assertEquals(layers, placement.physicalToLogical().length);
    assertEquals(layers, placement.replicaShares().length);
    for (int l = 0; l < layers; l++) {
      int[] map = placement.physicalToLogical()[l];
      double[] shares = placement.replicaShares()[l];
      assertEquals(cluster.gpus() * cluster.slotsPerGpu(), map.length, "slots of layer " + l);
      assertEquals(map.length, shares.length, "shares of layer " + l);
      double[] shareSum = new double[experts];
      for (int s = 0; s < map.length; s++) {
        assertTrue(map[s] >= 0 && map[s] < experts, "layer " + l + " slot " + s + " holds expert " + map[s]);
        assertTrue(shares[s] > 0, "layer " + l + " slot " + s + " has share " + shares[s]);
        shareSum[map[s]] += shares[s];
      }
      for (int e = 0; e < experts; e++) {
        assertEquals(1.0, shareSum[e], 1e-9, "layer " + l + " expert " + e + " shares (0: no replica)");
      }
    }
  }

  static boolean isDense(double[] row) {
    for (double v : row) {
      if (v != 0) {
        return false;
      }
    }
    return true;
  }
}

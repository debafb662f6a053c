package dev.moe.stats;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.junit.jupiter.api.Test;

class RoutingStatsJsonTest {

  @Test
  void writtenStatisticsReadBackEqual() {
    double[][] counts = {{3, 0, 5}, {1.5, 2, 0}};
    double[][] pair = {{1, 0, 2}, {0, 0, 0}, {4, 1, 0}};
    double[][][] co = {{{0, 1, 0}, {1, 0, 0}, {0, 0, 0}}, {{0, 0, 0}, {0, 0, 2}, {0, 2, 0}}};
    RoutingStats stats = new RoutingStats(counts, Map.of(new LayerPair(0, 1), pair), co);

    String json = RoutingStatsJson.toJson(stats);
    RoutingStats back = RoutingStatsReader.parse(json.getBytes(StandardCharsets.UTF_8), "test");

    assertArrayEquals(counts, back.logicalCount());
    assertArrayEquals(pair, back.transitions().get(new LayerPair(0, 1)));
    assertArrayEquals(co[1], back.coactivation()[1]);
    assertTrue(json.contains("[3, 0, 5]"), "whole counts are written without a fraction: " + json);
  }

  @Test
  void countsOnlyHaveNoOptionalKeys() {
    String json = RoutingStatsJson.toJson(RoutingStats.ofCounts(new double[][] {{1, 2}}));
    assertEquals("{\n  \"logical_count\": [\n    [1, 2]\n  ]\n}\n", json);
  }

  @Test
  void nonFiniteCountIsRefused() {
    RoutingStats bad = RoutingStats.ofCounts(new double[][] {{1, Double.NaN}});
    assertThrows(IllegalArgumentException.class, () -> RoutingStatsJson.toJson(bad));
  }

  @Test
  void parseNamesTheSource() {
    InvalidStatsException e = assertThrows(InvalidStatsException.class,
        () -> RoutingStatsReader.parse("{\"logical_count\": 3}".getBytes(StandardCharsets.UTF_8), "worker-1"));
    assertTrue(e.getMessage().startsWith("worker-1: "), e.getMessage());
  }
}

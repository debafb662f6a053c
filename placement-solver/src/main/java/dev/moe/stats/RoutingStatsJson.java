package dev.moe.stats;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Map;

/**
 * {@link RoutingStats} as the JSON document {@link RoutingStatsReader} reads: SGLang's {@code
 * logical_count}, plus {@code transitions} ({@code {"FROM->TO": [experts][experts]}}) and {@code
 * coactivation} when present. Counts that are whole numbers are written without a fraction.
 */
public final class RoutingStatsJson {

  private RoutingStatsJson() {}

  public static void write(RoutingStats stats, Path file) throws IOException {
    Files.writeString(file, toJson(stats), StandardCharsets.UTF_8);
  }

  public static String toJson(RoutingStats stats) {
    StringBuilder json = new StringBuilder("{\n  \"logical_count\": ");
    appendMatrix(json, stats.logicalCount(), "  ");
    if (!stats.transitions().isEmpty()) {
      json.append(",\n  \"transitions\": {");
      boolean first = true;
      for (Map.Entry<LayerPair, double[][]> e : stats.transitions().entrySet().stream()
          .sorted(Comparator.comparingInt((Map.Entry<LayerPair, double[][]> x) -> x.getKey().from())
              .thenComparingInt(x -> x.getKey().to()))
          .toList()) {
        json.append(first ? "\n    \"" : ",\n    \"").append(e.getKey()).append("\": ");
        appendMatrix(json, e.getValue(), "    ");
        first = false;
      }
      json.append("\n  }");
    }
    if (stats.coactivation() != null) {
      json.append(",\n  \"coactivation\": [");
      double[][][] co = stats.coactivation();
      for (int l = 0; l < co.length; l++) {
        json.append(l == 0 ? "\n    " : ",\n    ");
        appendMatrix(json, co[l], "    ");
      }
      json.append("\n  ]");
    }
    return json.append("\n}\n").toString();
  }

  /** One row per line, so a 58 x 256 matrix stays readable and diffable. */
  private static void appendMatrix(StringBuilder json, double[][] m, String indent) {
    json.append('[');
    for (int r = 0; r < m.length; r++) {
      json.append(r == 0 ? "\n" : ",\n").append(indent).append("  [");
      for (int c = 0; c < m[r].length; c++) {
        if (!Double.isFinite(m[r][c])) {
          throw new IllegalArgumentException("count [" + r + "][" + c + "] is " + m[r][c]);
        }
        json.append(c == 0 ? "" : ", ");
        double v = m[r][c];
        if (v == Math.rint(v) && Math.abs(v) < 1e15) {
          json.append((long) v);
        } else {
          json.append(v);
        }
      }
      json.append(']');
    }
    json.append(m.length == 0 ? "]" : "\n" + indent + "]");
  }
}

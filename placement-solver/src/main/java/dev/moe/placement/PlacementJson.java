package dev.moe.placement;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moe.stats.JsonInput;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Function;

/**
 * A {@link Placement} as one JSON document:
 *
 * <pre>{@code
 * {"physical_to_logical_map": [layers][slots] ints,
 *  "replica_shares": [layers][slots] doubles,
 *  "slots_per_gpu": S,
 *  "report": {"balancedness": .., ..., "solve_seconds": ..}}
 * }</pre>
 *
 * <p>{@code physical_to_logical_map} is SGLang's format, but SGLang's {@code --init-expert-location}
 * passes every top-level key of its file to {@code ExpertLocationMetadata.init_by_mapping(...,
 * **data)}, which accepts only {@code physical_to_logical_map}: the other keys make it fail. Give
 * SGLang the file {@link #writeSglang} writes.
 *
 * <p>Reading checks everything the solver and evaluator rely on and fails with one {@link
 * InvalidPlacementException} naming the file, the problem and where.
 */
public final class PlacementJson {

  private static final Set<String> FIELDS =
      Set.of("physical_to_logical_map", "replica_shares", "slots_per_gpu", "report");

  private static final List<String> REPORT_FIELDS = List.of("balancedness", "balancedness_bound", "gap",
      "cross_node_fraction", "cross_gpu_transition_fraction", "replicas_moved", "solve_seconds");

  /** Only in a step of a re-plan path: what the path leads to. Optional, so older files still read. */
  private static final String TARGET_FIELD = "target_balancedness";

  /** How far one expert's shares may sum from 1: rounding of the solver's shares, not more. */
  public static final double SHARE_TOLERANCE = 1e-6;

  private PlacementJson() {}

  public static void write(Placement placement, Path file) throws IOException {
    Files.writeString(file, toJson(placement), StandardCharsets.UTF_8);
  }

  /** Only {@code physical_to_logical_map}: what SGLang's {@code --init-expert-location} takes. */
  public static void writeSglang(Placement placement, Path file) throws IOException {
    Files.writeString(file, toSglangJson(placement), StandardCharsets.UTF_8);
  }

  /** One row per line, so that a 61 x 288 map stays readable and diffable. */
  public static String toJson(Placement placement) {
    StringBuilder json = new StringBuilder("{\n");
    appendMap(json, placement);
    if (placement.replicaShares() != null) {
      json.append(",\n  \"replica_shares\": [");
      double[][] shares = placement.replicaShares();
      for (int l = 0; l < shares.length; l++) {
        json.append(l == 0 ? "\n    [" : ",\n    [");
        for (int s = 0; s < shares[l].length; s++) {
          if (!Double.isFinite(shares[l][s])) {
            throw new IllegalArgumentException("replica share [" + l + "][" + s + "] is " + shares[l][s]);
          }
          json.append(s == 0 ? "" : ", ").append(shares[l][s]);
        }
        json.append(']');
      }
      json.append("\n  ]");
    }
    json.append(",\n  \"slots_per_gpu\": ").append(placement.slotsPerGpu());
    if (placement.report() != null) {
      json.append(",\n  \"report\": ");
      appendReport(json, placement.report(), "  ");
    }
    return json.append("\n}\n").toString();
  }

  public static String toSglangJson(Placement placement) {
    StringBuilder json = new StringBuilder("{\n");
    appendMap(json, placement);
    return json.append("\n}\n").toString();
  }

  /** The report as a JSON object with the same keys as in a placement file; NaN is null. */
  public static String reportJson(PlacementReport report) {
    StringBuilder json = new StringBuilder();
    appendReport(json, report, "");
    return json.append('\n').toString();
  }

  private static void appendMap(StringBuilder json, Placement placement) {
    json.append("  \"physical_to_logical_map\": [");
    int[][] map = placement.physicalToLogical();
    for (int l = 0; l < map.length; l++) {
      json.append(l == 0 ? "\n    [" : ",\n    [");
      for (int s = 0; s < map[l].length; s++) {
        json.append(s == 0 ? "" : ", ").append(map[l][s]);
      }
      json.append(']');
    }
    json.append(map.length == 0 ? "]" : "\n  ]");
  }

  private static void appendReport(StringBuilder json, PlacementReport r, String indent) {
    Object[] values = {r.balancedness(), r.balancednessBound(), r.gap(), r.crossNodeFraction(),
        r.crossGpuTransitionFraction(), r.replicasMoved(), r.solveSeconds()};
    json.append('{');
    for (int i = 0; i < REPORT_FIELDS.size(); i++) {
      Object v = values[i] instanceof Double d && !Double.isFinite(d) ? "null" : values[i];
      json.append(i == 0 ? "\n" : ",\n").append(indent).append("  \"").append(REPORT_FIELDS.get(i))
          .append("\": ").append(v);
    }
    if (Double.isFinite(r.targetBalancedness())) {
      json.append(",\n").append(indent).append("  \"" + TARGET_FIELD + "\": ").append(r.targetBalancedness());
    }
    json.append('\n').append(indent).append('}');
  }

  /** Reads a placement file that states its {@code slots_per_gpu}, expert count unknown. */
  public static Placement read(Path file) {
    return read(file, 0, 0);
  }

  /**
   * @param experts the model's expert count: every index must be below it and every expert needs a
   *     slot in every layer; 0 when unknown
   * @param defaultSlotsPerGpu used when the file has no {@code slots_per_gpu} (a file written for
   *     SGLang); 0 makes the key required
   */
  public static Placement read(Path file, int experts, int defaultSlotsPerGpu) {
    Function<String, InvalidPlacementException> fail =
        problem -> new InvalidPlacementException(file.toString(), problem);
    return fromJson(JsonInput.readObject(file, fail), experts, defaultSlotsPerGpu, fail);
  }

  /** A placement document received over the network; {@code source} names the sender. */
  public static Placement parse(byte[] json, String source, int experts, int defaultSlotsPerGpu) {
    Function<String, InvalidPlacementException> fail =
        problem -> new InvalidPlacementException(source, problem);
    return fromJson(JsonInput.parseObject(json, fail), experts, defaultSlotsPerGpu, fail);
  }

  /**
   * A placement embedded in a larger document (an ExpertPlacement's spec), whose {@code others}
   * fields sit beside the placement's and are not read.
   */
  public static Placement parseEmbedded(byte[] json, String source, int experts, int defaultSlotsPerGpu,
      Set<String> others) {
    Function<String, InvalidPlacementException> fail =
        problem -> new InvalidPlacementException(source, problem);
    JsonNode root = JsonInput.parseObject(json, fail);
    if (root instanceof ObjectNode object) {
      object.remove(others);
    }
    return fromJson(root, experts, defaultSlotsPerGpu, fail);
  }

  private static Placement fromJson(JsonNode root, int experts, int defaultSlotsPerGpu,
      Function<String, InvalidPlacementException> fail) {
    JsonInput.checkFields(root, "", FIELDS, fail);
    JsonNode mapNode = root.get("physical_to_logical_map");
    if (mapNode == null) {
      throw fail.apply("missing physical_to_logical_map ([layers][slots] expert indices)");
    }
    int[][] map = map(mapNode, experts, fail);
    int slotsPerGpu = slotsPerGpu(root.get("slots_per_gpu"), defaultSlotsPerGpu, fail);
    if (map[0].length % slotsPerGpu != 0) {
      throw fail.apply("physical_to_logical_map has " + map[0].length
          + " slots per layer, not a multiple of slots_per_gpu " + slotsPerGpu);
    }
    JsonNode sharesNode = root.get("replica_shares");
    double[][] shares = sharesNode == null ? evenShares(map) : shares(sharesNode, map, fail);
    JsonNode reportNode = root.get("report");
    PlacementReport report = reportNode == null || reportNode.isNull() ? null : report(reportNode, fail);
    return new Placement(slotsPerGpu, map, shares, report);
  }

  private static int[][] map(JsonNode node, int experts, Function<String, InvalidPlacementException> fail) {
    String name = "physical_to_logical_map";
    if (!node.isArray()) {
      throw fail.apply(name + " is " + JsonInput.describe(node) + ", expected [layers][slots] expert indices");
    }
    if (node.isEmpty()) {
      throw fail.apply(name + " is empty");
    }
    int[][] map = new int[node.size()][];
    for (int l = 0; l < node.size(); l++) {
      JsonNode row = node.get(l);
      if (!row.isArray()) {
        throw fail.apply(name + " row " + l + " is " + JsonInput.describe(row) + ", expected an array");
      }
      if (row.isEmpty()) {
        throw fail.apply(name + " row " + l + " is empty");
      }
      if (l > 0 && row.size() != map[0].length) {
        throw fail.apply(name + " row " + l + " has " + row.size() + " slots, row 0 has " + map[0].length);
      }
      map[l] = new int[row.size()];
      for (int s = 0; s < row.size(); s++) {
        map[l][s] = expertIndex(row.get(s), name + "[" + l + "][" + s + "]", experts, fail);
      }
      if (experts > 0) {
        checkEveryExpertPlaced(map[l], experts, l, fail);
      }
    }
    return map;
  }

  private static int expertIndex(JsonNode n, String where, int experts, Function<String, InvalidPlacementException> fail) {
    if (!n.isIntegralNumber() || !n.canConvertToInt()) {
      throw fail.apply(where + " is " + JsonInput.describe(n) + ", not an expert index (a whole number)");
    }
    int e = n.intValue();
    if (e < 0) {
      throw fail.apply(where + " is " + e + ", must be >= 0");
    }
    if (experts > 0 && e >= experts) {
      throw fail.apply(where + " is " + e + ", but there are " + experts + " experts (0-" + (experts - 1) + ")");
    }
    return e;
  }

  /** An expert without a slot cannot be served: SGLang would have no replica to dispatch to. */
  private static void checkEveryExpertPlaced(int[] row, int experts, int layer, Function<String, InvalidPlacementException> fail) {
    boolean[] placed = new boolean[experts];
    for (int e : row) {
      placed[e] = true;
    }
    for (int e = 0; e < experts; e++) {
      if (!placed[e]) {
        throw fail.apply("physical_to_logical_map row " + layer + " has no slot for expert " + e);
      }
    }
  }

  private static int slotsPerGpu(JsonNode n, int defaultSlotsPerGpu, Function<String, InvalidPlacementException> fail) {
    if (n == null) {
      if (defaultSlotsPerGpu > 0) {
        return defaultSlotsPerGpu;
      }
      throw fail.apply("missing slots_per_gpu (a file written for SGLang does not say how many slots each GPU has)");
    }
    if (!n.isIntegralNumber() || !n.canConvertToInt() || n.intValue() < 1) {
      throw fail.apply("slots_per_gpu is " + JsonInput.describe(n) + ", expected a whole number >= 1");
    }
    return n.intValue();
  }

  private static double[][] shares(JsonNode node, int[][] map, Function<String, InvalidPlacementException> fail) {
    double[][] shares = JsonInput.matrix(node, "replica_shares", map.length, map[0].length, "slots", fail);
    for (int l = 0; l < map.length; l++) {
      int experts = 0;
      for (int e : map[l]) {
        experts = Math.max(experts, e + 1);
      }
      double[] sum = new double[experts];
      boolean[] placed = new boolean[experts];
      for (int s = 0; s < map[l].length; s++) {
        sum[map[l][s]] += shares[l][s];
        placed[map[l][s]] = true;
      }
      for (int e = 0; e < experts; e++) {
        if (placed[e] && Math.abs(sum[e] - 1) > SHARE_TOLERANCE) {
          throw fail.apply("replica_shares row " + l + ": the shares of expert " + e + "'s slots sum to "
              + sum[e] + ", expected 1");
        }
      }
    }
    return shares;
  }


  private static PlacementReport report(JsonNode node, Function<String, InvalidPlacementException> fail) {
    if (!node.isObject()) {
      throw fail.apply("report is " + JsonInput.describe(node) + ", expected an object");
    }
    Set<String> fields = new HashSet<>(REPORT_FIELDS);
    fields.add(TARGET_FIELD);
    JsonInput.checkFields(node, "report: ", fields, fail);
    double[] v = new double[REPORT_FIELDS.size()];
    for (int i = 0; i < v.length; i++) {
      String key = REPORT_FIELDS.get(i);
      JsonNode n = node.get(key);
      if (n == null && !key.equals("cross_gpu_transition_fraction")) {
        throw fail.apply("report is missing " + key);
      }
      v[i] = n == null || n.isNull() ? Double.NaN : JsonInput.finite(n, "report." + key, fail);
    }
    JsonNode moved = node.get("replicas_moved");
    if (!moved.isIntegralNumber() || !moved.canConvertToInt() || moved.intValue() < 0) {
      throw fail.apply("report.replicas_moved is " + JsonInput.describe(moved) + ", expected a whole number >= 0");
    }
    JsonNode target = node.get(TARGET_FIELD);
    return new PlacementReport(v[0], v[1], v[2], v[3], v[4], moved.intValue(), v[6],
        target == null || target.isNull() ? Double.NaN : JsonInput.finite(target, "report." + TARGET_FIELD, fail));
  }

  /** Each replica of an expert serves the same fraction of its tokens. */
  private static double[][] evenShares(int[][] map) {
    double[][] shares = new double[map.length][];
    for (int l = 0; l < map.length; l++) {
      int experts = 1 + Arrays.stream(map[l]).max().orElse(-1);
      shares[l] = Placement.evenShares(map[l], experts);
    }
    return shares;
  }
}

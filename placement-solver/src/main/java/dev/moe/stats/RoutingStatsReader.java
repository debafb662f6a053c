package dev.moe.stats;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * Reads routing statistics into {@link RoutingStats}, checking everything the solver relies on, so
 * that a bad file fails here with one message ({@link InvalidStatsException}) naming the file, the
 * problem and where.
 *
 * <p>Formats (see {@code data/routing/README.md}):
 *
 * <ul>
 *   <li>SGLang's dump: {@code {"logical_count": [layers][experts]}}, optionally with {@code
 *       "transitions": {"0->7": [E][E]}} and {@code "coactivation": [layers][E][E]}.
 *   <li>OLMoE's per-layer counts: {@code {"layer_counts": {"0": [E], "7": [E]}}}, which becomes
 *       {@code max layer + 1} rows; layers not recorded are all zero, i.e. dense and passed
 *       through.
 *   <li>OLMoE's cross-layer pairs: {@code {"pairs": {"0->7": [E][E]}}}, merged into statistics
 *       read from another file.
 *   <li>CSV: one line per layer, one integer column per expert, no header.
 * </ul>
 */
public final class RoutingStatsReader {

  /** Descriptive keys the shared data files carry; they do not affect placement. */
  private static final Set<String> METADATA =
      Set.of("model", "top_k", "domain", "layers_note", "kind", "num_experts", "note");

  private static final Set<String> STATS_FIELDS = union(
      METADATA, Set.of("logical_count", "layer_counts", "transitions", "pairs", "coactivation"));

  private static final Set<String> PAIRS_FIELDS = union(METADATA, Set.of("pairs", "transitions"));

  /** A layer_counts key beyond this is a typo, not a model: it would allocate that many rows. */
  private static final int MAX_LAYER_INDEX = 65_535;

  private RoutingStatsReader() {}

  /** Reads a JSON statistics file, or a CSV one when the name ends in {@code .csv}. */
  public static RoutingStats read(Path file) {
    if (file.toString().toLowerCase(Locale.ROOT).endsWith(".csv")) {
      return readCsv(file);
    }
    Function<String, InvalidStatsException> fail = failure(file);
    return fromJson(JsonInput.readObject(file, fail), fail);
  }

  /** A JSON statistics document received over the network; {@code source} names the sender. */
  public static RoutingStats parse(byte[] json, String source) {
    Function<String, InvalidStatsException> fail = problem -> new InvalidStatsException(source, problem);
    return fromJson(JsonInput.parseObject(json, fail), fail);
  }

  /**
   * Statistics from a per-layer counts file (any format {@link #read} takes, typically OLMoE's
   * {@code layer_counts}) plus, unless {@code pairsFile} is null, the transitions of a pairs file.
   */
  public static RoutingStats readLayerCounts(Path countsFile, Path pairsFile) {
    RoutingStats counts = read(countsFile);
    return pairsFile == null ? counts : mergeTransitions(counts, pairsFile);
  }

  /**
   * {@code stats} plus the transitions of a pairs file ({@code {"pairs": {"0->7": [E][E]}}}, or
   * {@code "transitions"}), checked against the layers and experts of {@code stats}.
   */
  public static RoutingStats mergeTransitions(RoutingStats stats, Path pairsFile) {
    Function<String, InvalidStatsException> fail = failure(pairsFile);
    JsonNode root = JsonInput.readObject(pairsFile, fail);
    JsonInput.checkFields(root, "", PAIRS_FIELDS, fail);
    String field = oneOf(root, "pairs", "transitions", fail);
    if (field == null) {
      throw fail.apply("missing pairs (the transition matrices, {\"FROM->TO\": [experts][experts]})");
    }
    checkNumExperts(root, stats.experts(), fail);
    Map<LayerPair, double[][]> merged = new HashMap<>(stats.transitions());
    for (Map.Entry<LayerPair, double[][]> e :
        transitions(root.get(field), field, stats.layers(), stats.experts(), fail).entrySet()) {
      if (merged.containsKey(e.getKey())) {
        throw fail.apply("pair " + e.getKey() + " is already in the statistics");
      }
      merged.put(e.getKey(), e.getValue());
    }
    return new RoutingStats(stats.logicalCount(), merged, stats.coactivation());
  }

  /** CSV: one line per layer, one column per expert; blank lines are skipped. */
  public static RoutingStats readCsv(Path file) {
    Function<String, InvalidStatsException> fail = failure(file);
    String text = new String(JsonInput.readBytes(file, fail), StandardCharsets.UTF_8);
    // Spreadsheet exports start with a byte order mark.
    if (text.startsWith("\uFEFF")) {
      text = text.substring(1);
    }
    String[] lines = text.split("\\R", -1);
    List<double[]> rows = new ArrayList<>();
    int firstLine = 0;
    for (int i = 0; i < lines.length; i++) {
      if (lines[i].isBlank()) {
        continue;
      }
      int line = i + 1;
      String[] fields = lines[i].split(",", -1);
      if (rows.isEmpty()) {
        firstLine = line;
      } else if (fields.length != rows.getFirst().length) {
        throw fail.apply("line " + line + " has " + fields.length + " columns, line " + firstLine + " has "
            + rows.getFirst().length);
      }
      double[] row = new double[fields.length];
      for (int c = 0; c < fields.length; c++) {
        row[c] = csvCount(fields[c].strip(), "line " + line + ", column " + (c + 1), fail);
      }
      rows.add(row);
    }
    if (rows.isEmpty()) {
      throw fail.apply("has no rows (expected one line of expert counts per layer)");
    }
    return RoutingStats.ofCounts(rows.toArray(double[][]::new));
  }

  private static double csvCount(String s, String where, Function<String, InvalidStatsException> fail) {
    double v;
    try {
      v = Double.parseDouble(s);
    } catch (NumberFormatException e) {
      throw fail.apply(where + " is \"" + s + "\", not a number");
    }
    if (Double.isNaN(v)) {
      throw fail.apply(where + " is NaN, must be a finite number");
    }
    if (Double.isInfinite(v)) {
      throw fail.apply(where + " is " + s + ", must be a finite number");
    }
    if (v < 0) {
      throw fail.apply(where + " is " + s + ", must be >= 0");
    }
    return v;
  }

  private static RoutingStats fromJson(JsonNode root, Function<String, InvalidStatsException> fail) {
    JsonInput.checkFields(root, "", STATS_FIELDS, fail);
    JsonNode logical = root.get("logical_count");
    JsonNode layerCounts = root.get("layer_counts");
    if (logical != null && layerCounts != null) {
      throw fail.apply("has both logical_count and layer_counts; give one");
    }
    if (logical == null && layerCounts == null) {
      throw fail.apply("missing logical_count (the expert counts, [layers][experts])");
    }
    double[][] counts = logical != null
        ? JsonInput.matrix(logical, "logical_count", -1, -1, "experts", fail)
        : layerCounts(layerCounts, fail);
    int layers = counts.length;
    int experts = counts[0].length;
    checkNumExperts(root, experts, fail);
    String field = oneOf(root, "transitions", "pairs", fail);
    Map<LayerPair, double[][]> transitions =
        field == null ? Map.of() : transitions(root.get(field), field, layers, experts, fail);
    JsonNode co = root.get("coactivation");
    double[][][] coactivation = co == null ? null : coactivation(co, layers, experts, fail);
    return new RoutingStats(counts, transitions, coactivation);
  }

  private static double[][] layerCounts(JsonNode node, Function<String, InvalidStatsException> fail) {
    if (!node.isObject()) {
      throw fail.apply("layer_counts is " + JsonInput.describe(node) + ", expected an object {\"LAYER\": [experts]}");
    }
    if (node.isEmpty()) {
      throw fail.apply("layer_counts is empty");
    }
    Map<Integer, double[]> byLayer = new HashMap<>();
    String firstName = null;
    int experts = -1;
    int maxLayer = 0;
    for (Map.Entry<String, JsonNode> e : node.properties()) {
      int layer = layerIndex(e.getKey(), fail);
      String name = "layer_counts[\"" + e.getKey() + "\"]";
      double[] row = JsonInput.vector(
          e.getValue(), name, name, experts, firstName + " has " + experts, "experts", fail);
      if (byLayer.put(layer, row) != null) {
        throw fail.apply("layer_counts names layer " + layer + " twice");
      }
      if (firstName == null) {
        firstName = name;
        experts = row.length;
      }
      maxLayer = Math.max(maxLayer, layer);
    }
    double[][] counts = new double[maxLayer + 1][experts];
    byLayer.forEach((layer, row) -> counts[layer] = row);
    return counts;
  }

  private static int layerIndex(String key, Function<String, InvalidStatsException> fail) {
    int layer;
    try {
      layer = Integer.parseInt(key.strip());
    } catch (NumberFormatException e) {
      throw fail.apply("layer_counts key \"" + key + "\" is not a layer index");
    }
    if (layer < 0 || layer > MAX_LAYER_INDEX) {
      throw fail.apply("layer_counts key \"" + key + "\" is not a layer index in 0.." + MAX_LAYER_INDEX);
    }
    return layer;
  }

  private static Map<LayerPair, double[][]> transitions(
      JsonNode node, String field, int layers, int experts, Function<String, InvalidStatsException> fail) {
    if (!node.isObject()) {
      throw fail.apply(field + " is " + JsonInput.describe(node) + ", expected an object {\"FROM->TO\": [experts][experts]}");
    }
    Map<LayerPair, double[][]> result = new HashMap<>();
    for (Map.Entry<String, JsonNode> e : node.properties()) {
      LayerPair pair;
      try {
        pair = LayerPair.parse(e.getKey());
      } catch (IllegalArgumentException ex) {
        throw fail.apply(field + ": " + ex.getMessage());
      }
      for (int layer : new int[] {pair.from(), pair.to()}) {
        if (layer >= layers) {
          throw fail.apply(field + " pair " + pair + " names layer " + layer + ", but the statistics have "
              + layers + " layers (0-" + (layers - 1) + ")");
        }
      }
      String name = field + "[\"" + e.getKey() + "\"]";
      if (result.put(pair, JsonInput.matrix(e.getValue(), name, experts, experts, "entries", fail)) != null) {
        throw fail.apply(field + " names pair " + pair + " twice");
      }
    }
    return result;
  }

  private static double[][][] coactivation(
      JsonNode node, int layers, int experts, Function<String, InvalidStatsException> fail) {
    if (!node.isArray()) {
      throw fail.apply("coactivation is " + JsonInput.describe(node) + ", expected [layers][experts][experts]");
    }
    if (node.size() != layers) {
      throw fail.apply("coactivation has " + node.size() + " layers, logical_count has " + layers);
    }
    double[][][] co = new double[layers][][];
    for (int l = 0; l < layers; l++) {
      co[l] = JsonInput.matrix(node.get(l), "coactivation[" + l + "]", experts, experts, "entries", fail);
    }
    return co;
  }

  /** {@code num_experts}, where a file states it, must agree with the matrices. */
  private static void checkNumExperts(JsonNode root, int experts, Function<String, InvalidStatsException> fail) {
    JsonNode n = root.get("num_experts");
    if (n != null && !(n.isIntegralNumber() && n.asLong() == experts)) {
      throw fail.apply("num_experts is " + n + ", but the counts have " + experts + " experts");
    }
  }

  /** Which of two synonymous fields the document uses, null for neither; both is an error. */
  private static String oneOf(JsonNode root, String name, String synonym, Function<String, InvalidStatsException> fail) {
    if (root.has(name) && root.has(synonym)) {
      throw fail.apply("has both " + name + " and " + synonym + "; give one");
    }
    return root.has(name) ? name : root.has(synonym) ? synonym : null;
  }

  private static Function<String, InvalidStatsException> failure(Path file) {
    return problem -> new InvalidStatsException(file.toString(), problem);
  }

  private static Set<String> union(Set<String> a, Set<String> b) {
    Set<String> all = new HashSet<>(a);
    all.addAll(b);
    return Set.copyOf(all);
  }
}

package dev.moe.stats;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Function;

/**
 * Strict reading of the JSON files the statistics and placement readers take. Every problem
 * becomes one exception, built by the caller's {@code fail} from a one-line problem description,
 * so each reader keeps its own exception type.
 */
public final class JsonInput {

  private static final JsonMapper MAPPER = JsonMapper.builder()
      // NaN and Infinity are not JSON, but Python's json.dump writes them: parse them so that the
      // error can say "NaN" at the right spot instead of "unexpected character".
      .enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS)
      .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
      .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
      .build();

  private JsonInput() {}

  /** The file's bytes; a missing, unreadable or directory path fails with a one-line reason. */
  public static byte[] readBytes(Path file, Function<String, ? extends RuntimeException> fail) {
    if (Files.isDirectory(file)) {
      throw fail.apply("is a directory, not a file");
    }
    try {
      return Files.readAllBytes(file);
    } catch (IOException e) {
      throw fail.apply(ioReason(e));
    }
  }

  /** Why an I/O operation failed, in a few words and without the exception's class name. */
  public static String ioReason(IOException e) {
    return switch (e) {
      case NoSuchFileException x -> "no such file or directory";
      case AccessDeniedException x -> "permission denied";
      case FileSystemException x when x.getReason() != null -> x.getReason();
      default -> e.getMessage() == null ? "I/O error" : e.getMessage();
    };
  }

  /** The file's top-level JSON object. */
  public static JsonNode readObject(Path file, Function<String, ? extends RuntimeException> fail) {
    return parseObject(readBytes(file, fail), fail);
  }

  public static JsonNode parseObject(byte[] json, Function<String, ? extends RuntimeException> fail) {
    JsonNode root;
    try {
      root = MAPPER.readTree(json);
    } catch (JsonProcessingException e) {
      JsonLocation at = e.getLocation();
      String where = at == null ? "" : " at line " + at.getLineNr() + ", column " + at.getColumnNr();
      throw fail.apply("not valid JSON" + where + ": " + oneLine(e.getOriginalMessage()));
    } catch (IOException e) {
      throw fail.apply(ioReason(e));
    }
    if (root == null || root.isMissingNode()) {
      throw fail.apply("is empty, expected a JSON object");
    }
    if (!root.isObject()) {
      throw fail.apply("top level is " + describe(root) + ", expected a JSON object");
    }
    return root;
  }

  /** Fails on the first top-level field not in {@code known}, listing the known ones. */
  public static void checkFields(
      JsonNode object, String what, Set<String> known, Function<String, ? extends RuntimeException> fail) {
    for (Map.Entry<String, JsonNode> field : object.properties()) {
      String name = field.getKey();
      if (!known.contains(name)) {
        throw fail.apply(what + "unknown field \"" + name + "\" (known: " + String.join(", ", new TreeSet<>(known)) + ")");
      }
    }
  }

  /** A finite number >= 0. {@code where} names the spot, e.g. {@code logical_count[3][5]}. */
  public static double nonNegative(JsonNode n, String where, Function<String, ? extends RuntimeException> fail) {
    double v = finite(n, where, fail);
    if (v < 0) {
      throw fail.apply(where + " is " + n.asText() + ", must be >= 0");
    }
    return v;
  }

  public static double finite(JsonNode n, String where, Function<String, ? extends RuntimeException> fail) {
    if (!n.isNumber()) {
      throw fail.apply(where + " is " + describe(n) + ", not a number");
    }
    double v = n.doubleValue();
    if (Double.isNaN(v)) {
      throw fail.apply(where + " is NaN, must be a finite number");
    }
    if (Double.isInfinite(v)) {
      throw fail.apply(where + " is " + (v > 0 ? "Infinity" : "-Infinity") + ", must be a finite number");
    }
    return v;
  }

  /**
   * A rectangular matrix of finite numbers >= 0.
   *
   * @param rows required row count, or -1 for any (at least one)
   * @param cols required row length, or -1 for "as long as row 0" (at least one)
   * @param colWord what a column is, for messages: "experts", "entries"
   */
  public static double[][] matrix(
      JsonNode n, String name, int rows, int cols, String colWord, Function<String, ? extends RuntimeException> fail) {
    if (!n.isArray()) {
      throw fail.apply(name + " is " + describe(n) + ", expected an array of rows");
    }
    if (n.isEmpty()) {
      throw fail.apply(name + " is empty");
    }
    if (rows >= 0 && n.size() != rows) {
      throw fail.apply(name + " has " + n.size() + " rows, expected " + rows);
    }
    double[][] m = new double[n.size()][];
    for (int r = 0; r < n.size(); r++) {
      String rowName = name + " row " + r;
      int length = cols >= 0 ? cols : r == 0 ? -1 : m[0].length;
      String expected = cols >= 0 || r == 0 ? null : "row 0 has " + m[0].length;
      m[r] = vector(n.get(r), rowName, name + "[" + r + "]", length, expected, colWord, fail);
    }
    return m;
  }

  /**
   * A non-empty array of finite numbers >= 0.
   *
   * @param name the array in messages about its shape, e.g. {@code logical_count row 3}
   * @param elementPrefix the array in messages about an element, e.g. {@code logical_count[3]}
   * @param length required length, or -1 for any
   * @param expected how a wrong length is explained ("row 0 has 256"), or null for "expected N"
   */
  public static double[] vector(
      JsonNode n,
      String name,
      String elementPrefix,
      int length,
      String expected,
      String colWord,
      Function<String, ? extends RuntimeException> fail) {
    if (!n.isArray()) {
      throw fail.apply(name + " is " + describe(n) + ", expected an array");
    }
    if (n.isEmpty()) {
      throw fail.apply(name + " is empty");
    }
    if (length >= 0 && n.size() != length) {
      throw fail.apply(name + " has " + n.size() + " " + colWord + ", "
          + (expected == null ? "expected " + length : expected));
    }
    double[] v = new double[n.size()];
    for (int c = 0; c < n.size(); c++) {
      v[c] = nonNegative(n.get(c), elementPrefix + "[" + c + "]", fail);
    }
    return v;
  }

  /** A short description of a value that was not what was expected. */
  public static String describe(JsonNode n) {
    return switch (n.getNodeType()) {
      case STRING -> {
        String s = n.asText();
        yield "the string \"" + (s.length() > 20 ? s.substring(0, 20) + "..." : s) + "\"";
      }
      case ARRAY -> "an array";
      case OBJECT -> "an object";
      case NULL -> "null";
      case BOOLEAN -> n.asText();
      default -> n.toString();
    };
  }

  /** Jackson's message on one line, its "[Source: ...; line: 1, column: 19]" cut to the position. */
  static String oneLine(String s) {
    return s == null ? "" : s.replaceAll("\\s*\\R\\s*", " ")
        .replaceAll("\\[Source: [^;\\]]*; line: (\\d+), column: (\\d+)]", "line $1, column $2")
        .strip();
  }
}

package dev.moe.runtime.model;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.HashSet;
import java.util.Set;

/** Typed reads of config.json keys with defaults and one-line errors naming the file and the key. */
record ConfigFields(JsonNode root, String source) {

  String string(String key, String dflt) {
    JsonNode n = root.get(key);
    if (n == null || n.isNull()) {
      return dflt;
    }
    if (!n.isTextual()) {
      throw bad(key, n, "a string");
    }
    return n.asText();
  }

  int positive(String key, int dflt) {
    int v = integer(key, dflt);
    if (v <= 0) {
      throw bad(key, root.get(key), "a positive integer");
    }
    return v;
  }

  int nonNegative(String key, int dflt) {
    int v = integer(key, dflt);
    if (v < 0) {
      throw bad(key, root.get(key), "a non-negative integer");
    }
    return v;
  }

  int integer(String key, int dflt) {
    JsonNode n = root.get(key);
    if (n == null || n.isNull()) {
      return dflt;
    }
    if (!n.isIntegralNumber() || !n.canConvertToInt()) {
      throw bad(key, n, "an integer");
    }
    return n.asInt();
  }

  double number(String key, double dflt) {
    JsonNode n = root.get(key);
    if (n == null || n.isNull()) {
      return dflt;
    }
    if (!n.isNumber()) {
      throw bad(key, n, "a number");
    }
    return n.asDouble();
  }

  boolean bool(String key, boolean dflt) {
    JsonNode n = root.get(key);
    if (n == null || n.isNull()) {
      return dflt;
    }
    if (!n.isBoolean()) {
      throw bad(key, n, "true or false");
    }
    return n.asBoolean();
  }

  Set<Integer> intSet(String key) {
    JsonNode n = root.get(key);
    Set<Integer> out = new HashSet<>();
    if (n == null || n.isNull()) {
      return out;
    }
    if (!n.isArray()) {
      throw bad(key, n, "a list of layer indices");
    }
    for (JsonNode e : n) {
      if (!e.isIntegralNumber() || !e.canConvertToInt()) {
        throw bad(key, n, "a list of layer indices");
      }
      out.add(e.asInt());
    }
    return out;
  }

  InvalidCheckpointException bad(String key, JsonNode value, String expected) {
    return new InvalidCheckpointException(source + ": \"" + key + "\" is " + value + ", expected " + expected);
  }

  /** Whether the file has {@code key} with a non-null value. */
  boolean has(String key) {
    JsonNode n = root.get(key);
    return n != null && !n.isNull();
  }
}

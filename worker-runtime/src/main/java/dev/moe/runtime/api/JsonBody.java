package dev.moe.runtime.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;

/** A request's JSON object, read field by field: a wrong type is a 400 naming the field. */
final class JsonBody {

  private final ObjectNode body;

  JsonBody(ObjectNode body) {
    this.body = body;
  }

  /** The field, or null when absent or JSON null. */
  JsonNode get(String field) {
    JsonNode node = body.get(field);
    return node == null || node.isNull() ? null : node;
  }

  boolean has(String field) {
    return get(field) != null;
  }

  /** Whether the field is there with the value null. */
  boolean isNull(String field) {
    JsonNode node = body.get(field);
    return node != null && node.isNull();
  }

  String string(String field) {
    JsonNode node = get(field);
    if (node != null && !node.isTextual()) {
      throw ApiException.invalid(field + " must be a string", field);
    }
    return node == null ? null : node.asText();
  }

  Boolean bool(String field) {
    JsonNode node = get(field);
    if (node != null && !node.isBoolean()) {
      throw ApiException.invalid(field + " must be true or false", field);
    }
    return node == null ? null : node.asBoolean();
  }

  Double number(String field) {
    JsonNode node = get(field);
    if (node != null && !node.isNumber()) {
      throw ApiException.invalid(field + " must be a number", field);
    }
    return node == null ? null : node.asDouble();
  }

  /** A whole number in int range (2.0 counts; 2.5 does not). */
  Integer integer(String field) {
    Long value = longInteger(field);
    if (value != null && (value < Integer.MIN_VALUE || value > Integer.MAX_VALUE)) {
      throw ApiException.invalid(field + " is out of range: " + value, field);
    }
    return value == null ? null : value.intValue();
  }

  Long longInteger(String field) {
    JsonNode node = get(field);
    if (node == null) {
      return null;
    }
    if (!node.isNumber() || !(node.isIntegralNumber() || node.asDouble() == Math.rint(node.asDouble()))
        || (node.isIntegralNumber() && !node.canConvertToLong())) {
      throw ApiException.invalid(field + " must be an integer", field);
    }
    return node.asLong();
  }

  /** A string or an array of at most {@code max} strings; null when absent. */
  List<String> strings(String field, int max) {
    JsonNode node = get(field);
    if (node == null) {
      return null;
    }
    if (node.isTextual()) {
      return List.of(node.asText());
    }
    if (!node.isArray() || node.size() > max) {
      throw ApiException.invalid(field + " must be a string or an array of at most " + max + " strings", field);
    }
    List<String> out = new ArrayList<>();
    for (JsonNode item : node) {
      if (!item.isTextual()) {
        throw ApiException.invalid(field + " must be a string or an array of at most " + max + " strings", field);
      }
      out.add(item.asText());
    }
    return out;
  }

  /** An array of integers in int range; null when absent. */
  int[] integers(String field) {
    JsonNode node = get(field);
    if (node == null) {
      return null;
    }
    if (!node.isArray()) {
      throw ApiException.invalid(field + " must be an array of integers", field);
    }
    int[] out = new int[node.size()];
    for (int i = 0; i < out.length; i++) {
      JsonNode item = node.get(i);
      if (!item.isIntegralNumber() || !item.canConvertToInt()) {
        throw ApiException.invalid(field + " must be an array of integers", field);
      }
      out[i] = item.asInt();
    }
    return out;
  }
}

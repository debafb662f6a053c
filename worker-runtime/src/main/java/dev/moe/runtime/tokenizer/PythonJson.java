package dev.moe.runtime.tokenizer;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;

/**
 * Python's {@code json.dumps(x, ensure_ascii=False, indent=..., separators=..., sort_keys=...)},
 * byte for byte: transformers' {@code tojson} filter, which chat templates use to print tools and
 * tool-call arguments into the prompt.
 */
final class PythonJson {

  private final String indent;
  private final String itemSeparator;
  private final String keySeparator;
  private final boolean sortKeys;

  /**
   * @param indent null: one line; else spaces per level
   * @param itemSeparator null: {@code ", "} on one line, {@code ","} when indented (as Python)
   * @param keySeparator null: {@code ": "}
   */
  PythonJson(Integer indent, String itemSeparator, String keySeparator, boolean sortKeys) {
    this.indent = indent == null ? null : " ".repeat(Math.max(indent, 0));
    this.itemSeparator = itemSeparator != null ? itemSeparator : indent == null ? ", " : ",";
    this.keySeparator = keySeparator != null ? keySeparator : ": ";
    this.sortKeys = sortKeys;
  }

  static String dumps(Object value) {
    return new PythonJson(null, null, null, false).write(value);
  }

  String write(Object value) {
    StringBuilder out = new StringBuilder();
    write(value, out, 0);
    return out.toString();
  }

  private void write(Object value, StringBuilder out, int depth) {
    switch (value) {
      case null -> out.append("null");
      case Boolean b -> out.append(b ? "true" : "false");
      case Double d -> out.append(floatRepr(d));
      case Float f -> out.append(floatRepr(f.doubleValue()));
      case BigDecimal d -> out.append(floatRepr(d.doubleValue()));
      case Number n -> out.append(n);
      case CharSequence s -> string(s.toString(), out);
      case Map<?, ?> map -> object(map, out, depth);
      case Collection<?> list -> array(list, out, depth);
      case Object[] array -> array(List.of(array), out, depth);
      default -> string(value.toString(), out);
    }
  }

  private void object(Map<?, ?> map, StringBuilder out, int depth) {
    if (map.isEmpty()) {
      out.append("{}");
      return;
    }
    List<Map.Entry<?, ?>> entries = new ArrayList<>(map.entrySet());
    if (sortKeys) {
      entries.sort((a, b) -> key(a.getKey()).compareTo(key(b.getKey())));
    }
    out.append('{');
    for (int i = 0; i < entries.size(); i++) {
      separate(out, i, depth + 1);
      string(key(entries.get(i).getKey()), out);
      out.append(keySeparator);
      write(entries.get(i).getValue(), out, depth + 1);
    }
    close(out, depth);
    out.append('}');
  }

  private void array(Collection<?> list, StringBuilder out, int depth) {
    if (list.isEmpty()) {
      out.append("[]");
      return;
    }
    out.append('[');
    int i = 0;
    for (Object item : list) {
      separate(out, i++, depth + 1);
      write(item, out, depth + 1);
    }
    close(out, depth);
    out.append(']');
  }

  private void separate(StringBuilder out, int index, int depth) {
    if (index > 0) {
      out.append(itemSeparator);
    }
    if (indent != null) {
      out.append('\n').append(indent.repeat(depth));
    }
  }

  private void close(StringBuilder out, int depth) {
    if (indent != null) {
      out.append('\n').append(indent.repeat(depth));
    }
  }

  /** Python's keys: strings as they are; True/False/None and numbers as json.dumps writes them. */
  private static String key(Object key) {
    return switch (key) {
      case null -> "null";
      case Boolean b -> b ? "true" : "false";
      case Double d -> floatRepr(d);
      default -> key.toString();
    };
  }

  private static void string(String s, StringBuilder out) {
    out.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> out.append("\\\"");
        case '\\' -> out.append("\\\\");
        case '\n' -> out.append("\\n");
        case '\r' -> out.append("\\r");
        case '\t' -> out.append("\\t");
        case '\b' -> out.append("\\b");
        case '\f' -> out.append("\\f");
        default -> {
          if (c < 0x20) {
            out.append(String.format("\\u%04x", (int) c));
          } else {
            out.append(c);
          }
        }
      }
    }
    out.append('"');
  }

  /** Python's {@code repr(float)}: the shortest digits, {@code 1e-05} and {@code 1e+16} forms. */
  static String floatRepr(double d) {
    if (Double.isNaN(d)) {
      return "NaN";
    }
    if (Double.isInfinite(d)) {
      return d > 0 ? "Infinity" : "-Infinity";
    }
    if (d == 0) {
      return 1 / d < 0 ? "-0.0" : "0.0";
    }
    BigDecimal shortest = new BigDecimal(Double.toString(d)).stripTrailingZeros();
    String digits = shortest.unscaledValue().abs().toString();
    int exponent = digits.length() - 1 - shortest.scale(); // of the first digit
    String sign = d < 0 ? "-" : "";
    if (exponent >= -4 && exponent < 16) {
      String plain = shortest.abs().toPlainString();
      return sign + (plain.contains(".") ? plain : plain + ".0");
    }
    String mantissa = digits.length() == 1 ? digits : digits.charAt(0) + "." + digits.substring(1);
    return sign + mantissa + "e" + (exponent < 0 ? "-" : "+") + String.format("%02d", Math.abs(exponent));
  }
}

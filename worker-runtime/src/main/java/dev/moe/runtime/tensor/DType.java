package dev.moe.runtime.tensor;

import java.util.Arrays;
import java.util.stream.Collectors;

/** Element types of safetensors files, by their safetensors names. */
public enum DType {
  F64("F64", 8),
  F32("F32", 4),
  F16("F16", 2),
  BF16("BF16", 2),
  F8_E4M3("F8_E4M3", 1),
  F8_E5M2("F8_E5M2", 1),
  I64("I64", 8),
  I32("I32", 4),
  I16("I16", 2),
  I8("I8", 1),
  U8("U8", 1),
  BOOL("BOOL", 1);

  private final String safetensorsName;
  private final int size;

  DType(String safetensorsName, int size) {
    this.safetensorsName = safetensorsName;
    this.size = size;
  }

  /** The name in a safetensors header, e.g. {@code "BF16"}. */
  public String safetensorsName() {
    return safetensorsName;
  }

  /** Bytes per element. */
  public int size() {
    return size;
  }

  /** The dtype named {@code name} in a safetensors header, or null when it is not one of these. */
  public static DType fromSafetensorsName(String name) {
    for (DType t : values()) {
      if (t.safetensorsName.equals(name)) {
        return t;
      }
    }
    return null;
  }

  /** The names this reader knows, for error messages. */
  public static String knownNames() {
    return Arrays.stream(values()).map(DType::safetensorsName).collect(Collectors.joining(", "));
  }
}

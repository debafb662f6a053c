package dev.moe.runtime.model;

import java.util.Arrays;
import java.util.stream.Collectors;

/** The Mixture-of-Experts architectures the worker runs, by transformers' {@code model_type}. */
public enum Architecture {
  MIXTRAL("mixtral"),
  QWEN2_MOE("qwen2_moe"),
  QWEN3_MOE("qwen3_moe"),
  OLMOE("olmoe"),
  DEEPSEEK_V3("deepseek_v3");

  private final String modelType;

  Architecture(String modelType) {
    this.modelType = modelType;
  }

  /** config.json's {@code model_type}. */
  public String modelType() {
    return modelType;
  }

  /** The architecture of {@code modelType}, or null when it is not supported. */
  public static Architecture fromModelType(String modelType) {
    for (Architecture a : values()) {
      if (a.modelType.equals(modelType)) {
        return a;
      }
    }
    return null;
  }

  /** The supported model types, for error messages. */
  public static String supported() {
    return Arrays.stream(values()).map(Architecture::modelType).collect(Collectors.joining(", "));
  }
}

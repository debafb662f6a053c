package dev.moe.crds.v1alpha1;

import com.fasterxml.jackson.annotation.JsonProperty;

/** The data type of the expert weights. */
public enum Dtype {
  @JsonProperty("fp32")
  FP32(4),
  @JsonProperty("bf16")
  BF16(2),
  @JsonProperty("fp8")
  FP8(1);

  private final int bytes;

  Dtype(int bytes) {
    this.bytes = bytes;
  }

  /** Bytes per weight. */
  public int bytes() {
    return bytes;
  }
}

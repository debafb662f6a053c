package dev.moe.crds.v1alpha1;

import com.fasterxml.jackson.annotation.JsonProperty;

/** Whether a rebalance was rolled out. */
public enum Decision {
  @JsonProperty("taken")
  TAKEN,
  @JsonProperty("declined")
  DECLINED
}

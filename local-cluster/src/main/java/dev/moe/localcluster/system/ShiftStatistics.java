package dev.moe.localcluster.system;

import java.util.List;

/**
 * The files of measured DeepSeek-V3 routing (SGLang's dumps) that the demo and the scale scenario
 * replay: decode traffic, then prefill traffic, the shift.
 */
public final class ShiftStatistics {

  public static final String DECODE = "decode_in1000out1000.json";
  public static final String PREFILL = "prefill_in1000out1000.json";
  public static final List<String> FILES = List.of(DECODE, PREFILL);

  private ShiftStatistics() {}
}

package dev.moe.runtime.nativelib;

import java.util.Locale;

/** Which backend to run on: AUTO takes CUDA when the library sees a CUDA device, else the CPU. */
public enum BackendChoice {
  AUTO,
  CPU,
  CUDA;

  /** Parses {@code auto}, {@code cpu} or {@code cuda}, in any case. */
  public static BackendChoice parse(String name) {
    try {
      return valueOf(name.strip().toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("unknown backend '" + name + "': expected auto, cpu or cuda");
    }
  }

  public String flagValue() {
    return name().toLowerCase(Locale.ROOT);
  }
}

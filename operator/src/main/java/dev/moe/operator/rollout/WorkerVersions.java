package dev.moe.operator.rollout;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.List;
import java.util.Map;

/**
 * The placement versions one worker reports on {@code GET /placement}: the one it serves, the one
 * it is staging, those it holds (staged or serving) and those it refused, with why. A worker holds
 * only versions newer than every one it has seen; the group switches to the newest version every
 * worker holds, and frees the older ones.
 */
public record WorkerVersions(long active, Long staging, List<Long> held, Map<Long, String> refused) {

  /** Fields a newer runtime adds are not this operator's business. */
  private static final ObjectMapper JSON =
      new ObjectMapper().configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);

  public WorkerVersions {
    held = held == null ? List.of() : List.copyOf(held);
    refused = refused == null ? Map.of() : Map.copyOf(refused);
  }

  /**
   * Reads a worker's {@code GET /placement} answer: {@code {"active": N, "staging": N|null, "held":
   * [...], "refused": {"N": "why"}}}.
   *
   * @throws IllegalArgumentException when it is not that
   */
  public static WorkerVersions parse(String json) {
    try {
      return JSON.readValue(json, WorkerVersions.class);
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException("not a worker's placement versions: " + e.getOriginalMessage(), e);
    }
  }

  public boolean serves(long version) {
    return active == version;
  }

  /** Staged or serving: ready for the group to switch to. */
  public boolean holds(long version) {
    return active == version || held.contains(version);
  }

  public boolean staging(long version) {
    return staging != null && staging == version;
  }
}

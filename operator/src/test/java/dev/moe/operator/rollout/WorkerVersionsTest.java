package dev.moe.operator.rollout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moe.runtime.rebalance.SlotVersions;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The operator reads {@code GET /placement} as the worker runtime writes it. */
class WorkerVersionsTest {

  @Test
  void readsWhatTheWorkerRuntimeWrites() {
    SlotVersions runtime = new SlotVersions(Runnable::run, v -> { });
    runtime.refused(3, "placement version 3 is not newer than version 4, \"the newest\"\nseen");
    WorkerVersions v = WorkerVersions.parse(runtime.statusJson());
    assertEquals(0, v.active());
    assertEquals(null, v.staging());
    assertEquals(List.of(), v.held());
    assertEquals(Map.of(3L, "placement version 3 is not newer than version 4, \"the newest\"\nseen"), v.refused());
  }

  @Test
  void aStagedVersionIsHeldAndNotServed() {
    WorkerVersions v = WorkerVersions.parse("{\"active\": 4, \"staging\": 6, \"held\": [4, 5], \"refused\": {}}\n");
    assertTrue(v.serves(4));
    assertTrue(v.holds(5) && !v.serves(5));
    assertTrue(v.staging(6) && !v.holds(6));
    assertFalse(v.holds(3));
  }

  @Test
  void somethingElseIsNoAnswer() {
    assertThrows(IllegalArgumentException.class, () -> WorkerVersions.parse("not ready: loading weights\n"));
  }
}

package dev.moe.operator.api;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** What kubectl says about ExpertPlacements: their columns, their schema and which fields are frozen. */
class ExpertPlacementValidationTest {

  private static final String NS = "moe-placements";

  @BeforeAll
  static void namespace() {
    Apply.namespace(NS);
  }

  @AfterAll
  static void cleanUp() {
    Apply.deleteAll(NS);
  }

  /** Revision 1 of model "small": two layers of four slots on two GPUs. */
  private static Manifest placement(String name) {
    return Manifest.of("""
        apiVersion: moe.dev/v1alpha1
        kind: ExpertPlacement
        spec:
          model:
            name: small
          revision: 1
          physical_to_logical_map: [[0, 1, 2, 3], [3, 2, 1, 0]]
          slots_per_gpu: 2
          report:
            balancedness: 0.9
            replicas_moved: 3
        """).set("metadata.namespace", NS).set("metadata.name", name);
  }

  @Test
  void getExpertPlacementsPrintsModelRevisionBalancednessAndMoved() {
    Apply.accepted(placement("columns"));
    List<List<String>> table = Apply.table("get", "expertplacements", "columns", "-n", NS);
    assertEquals(List.of("NAME", "MODEL", "REVISION", "BALANCEDNESS", "MOVED", "AGE"), table.get(0));
    assertEquals(List.of("columns", "small", "1", "0.9", "3"), table.get(1).subList(0, 5));
  }

  static Stream<Refusal> frozen() {
    return Stream.of(
        new Refusal("change-model", m -> m.set("spec.model.name", "other"), "spec.model",
            "an ExpertPlacement's model cannot change; create a new ExpertPlacement for the other model"),
        new Refusal("change-revision", m -> m.set("spec.revision", 2), "spec.revision",
            "an ExpertPlacement's revision cannot change; create a new one"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource
  void frozen(Refusal c) {
    Apply.accepted(placement(c.name()));
    c.assertRefused(placement(c.name()));
  }

  @Test
  void theRestOfAPlacementCanChange() {
    // The transition rules freeze only model and revision; a rewritten report is taken.
    Apply.accepted(placement("report"));
    Apply.accepted(placement("report").set("spec.report.balancedness", 0.95));
    assertEquals("0.95", Apply.kubectl("get", "expertplacements", "report", "-n", NS,
        "-o", "jsonpath={.spec.report.balancedness}"));
  }

  static Stream<Refusal> refused() {
    return Stream.of(
        new Refusal("zero-revision", m -> m.set("spec.revision", 0), "spec.revision",
            "should be greater than or equal to 1"),
        new Refusal("zero-slots", m -> m.set("spec.slots_per_gpu", 0), "spec.slots_per_gpu",
            "should be greater than or equal to 1"),
        new Refusal("no-map", m -> m.remove("spec.physical_to_logical_map"), "spec.physical_to_logical_map",
            "Required value"),
        new Refusal("no-model", m -> m.remove("spec.model"), "spec.model", "Required value"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource
  void refused(Refusal c) {
    c.assertRefused(placement(c.name()));
  }
}

package dev.moe.operator.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moe.operator.cluster.ControlPlane;
import dev.moe.operator.cluster.Kubectl;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

/** {@code kubectl apply -f -} as a user runs it, with the assertions on what they are told. */
final class Apply {

  private Apply() {}

  /** Creates {@code namespace} unless it exists (the control plane outlives a test class). */
  static void namespace(String namespace) {
    ok(ControlPlane.get().kubectl("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: " + namespace + "\n",
        "apply", "-f", "-"));
  }

  /**
   * Deletes what the tests left in {@code namespace}: an operator that a later test class runs
   * watches every namespace and would reconcile them. (The namespace itself stays: with no
   * controller manager to empty it, deleting it would leave it terminating.)
   */
  static void deleteAll(String namespace) {
    kubectl("delete", "moemodels,expertplacements", "--all", "-n", namespace);
  }

  static Kubectl.Result accepted(Manifest manifest, String... flags) {
    Kubectl.Result r = apply(manifest, flags);
    assertEquals(0, r.exitCode(), () -> "refused:\n" + r.stderr() + "\n" + manifest);
    return r;
  }

  /**
   * Applies a manifest that must be refused; stderr must hold every fragment (the field path and
   * the rule's message). Returns stderr.
   */
  static String refused(Manifest manifest, String... fragments) {
    return assertRefused(apply(manifest), manifest::yaml, fragments);
  }

  /** Asserts that a kubectl command failed and said every fragment. Returns stderr. */
  static String assertRefused(Kubectl.Result r, Supplier<String> what, String... fragments) {
    assertNotEquals(0, r.exitCode(), () -> "accepted:\n" + what.get() + "\n" + r.stdout());
    for (String fragment : fragments) {
      assertTrue(r.stderr().contains(fragment), () -> "kubectl did not say <" + fragment + ">:\n" + r.stderr());
    }
    // A rule that fails to evaluate (a missing key, a division by zero) prints CEL's error, not the rule's message.
    assertFalse(r.stderr().contains("evaluating rule"), () -> "a CEL rule failed to evaluate:\n" + r.stderr());
    return r.stderr();
  }

  /** Runs kubectl and asserts it succeeded; returns stdout. */
  static String ok(Kubectl.Result r) {
    assertEquals(0, r.exitCode(), r::stderr);
    return r.stdout();
  }

  static String kubectl(String... args) {
    return ok(ControlPlane.get().kubectl(null, args));
  }

  /** The table kubectl prints (header first), each line split into its columns. */
  static List<List<String>> table(String... args) {
    return kubectl(args).lines().map(line -> List.of(line.trim().split("\\s+"))).toList();
  }

  private static Kubectl.Result apply(Manifest manifest, String... flags) {
    List<String> args = new ArrayList<>(List.of("apply", "-f", "-"));
    args.addAll(List.of(flags));
    return ControlPlane.get().kubectl(manifest.yaml(), args.toArray(String[]::new));
  }
}

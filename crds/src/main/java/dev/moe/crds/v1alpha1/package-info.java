/**
 * The {@code moe.dev/v1alpha1} API: {@link dev.moe.crds.v1alpha1.MoEModel} (what a user applies)
 * and {@link dev.moe.crds.v1alpha1.ExpertPlacement} (one placement revision, written by the
 * operator). The CRD YAML in {@code crds/generated/} is generated from these classes: after a
 * change, run {@code ./mvnw -B -pl crds -am verify -Dcrds.update=true} and commit the result.
 */
package dev.moe.crds.v1alpha1;

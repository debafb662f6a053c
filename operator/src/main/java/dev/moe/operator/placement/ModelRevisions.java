package dev.moe.operator.placement;

import dev.moe.crds.v1alpha1.ExpertPlacement;
import java.util.List;

/**
 * The ExpertPlacements labelled with a model: its own valid revisions, oldest first, which are the
 * only ones it may serve; those refused, with why; and the highest revision number among all, which
 * the next revision must exceed (a worker takes only versions newer than any it has seen).
 */
public record ModelRevisions(List<ExpertPlacement> own, List<Refused> refused, long highest) {

  /** An ExpertPlacement the model does not serve, and why. */
  public record Refused(String name, String why) {}

  public ExpertPlacement newest() {
    return own.isEmpty() ? null : own.getLast();
  }
}

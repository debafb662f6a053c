package dev.moe.operator.rollout;

import dev.moe.crds.v1alpha1.MoEModel;
import dev.moe.placement.Placement;
import java.util.Set;

/**
 * Hands a placement revision to a model's workers, which stage the moved experts beside the served
 * ones and switch at a step boundary. Publishing the same revision again is harmless, so a rollout
 * interrupted by an operator restart is simply published again.
 */
public interface PlacementPublisher {

  /**
   * @param workers the workers (StatefulSet ordinals) that take it: all of them, or the survivors
   * @return true when they all have the revision; false while one cannot be reached, in which case
   *     the caller tries again later
   * @throws RolloutException when a worker refuses it
   */
  boolean publish(MoEModel model, long revision, Placement placement, Set<Integer> workers);
}

package dev.moe.operator.rollout;

import dev.moe.crds.v1alpha1.MoEModel;
import dev.moe.placement.Placement;
import java.util.Map;
import java.util.Set;

/**
 * A model's workers' placement versions (the worker runtime's {@code /placement}): what each
 * reports, and handing them a revision to stage beside the served one. The workers, not the
 * operator, switch to it: all at once, when every one holds it.
 */
public interface WorkerPlacements {

  /** What each of {@code workers} (StatefulSet ordinals) reports; one that cannot be read now is absent. */
  Map<Integer, WorkerVersions> read(MoEModel model, Set<Integer> workers);

  /**
   * Hands revision {@code revision} to {@code workers} to stage; a worker that holds or stages it
   * already takes it as a no-op.
   *
   * @return the workers that could not take it now (unreachable, busy staging another): try later
   * @throws RolloutException when a worker refuses it
   */
  Set<Integer> stage(MoEModel model, long revision, Placement placement, Set<Integer> workers);
}

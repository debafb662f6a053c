package dev.moe.operator.rollout;

import dev.moe.crds.v1alpha1.MoEModel;
import dev.moe.crds.v1alpha1.RolloutStatus;
import dev.moe.operator.workers.WorkerPods;
import dev.moe.placement.Placement;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * One look at a revision on its way to the workers: where each worker is, and the revision handed
 * to those that neither hold nor stage it (a new revision, or a restarted worker that serves a
 * version of its own). Done when every worker serves it, as the workers themselves report.
 */
public final class Rollout {

  /**
   * @param lagging the workers that do not serve it yet, each with what it does instead
   */
  public record Progress(int workers, int staged, int active, Map<Integer, String> lagging) {

    public boolean done() {
      return active == workers;
    }

    public RolloutStatus status(String revision) {
      RolloutStatus s = new RolloutStatus();
      s.setRevision(revision);
      s.setWorkers(workers);
      s.setStaged(staged);
      s.setActive(active);
      return s;
    }

    /** E.g. "5 of 8 workers staged it, 0 serve it". */
    public String counts() {
      return staged + " of " + workers + " workers staged it, " + active + " serve it";
    }

    /** E.g. "workers [3, 5] do not serve dsv3-r2 (3: serves version 0)". */
    public String laggards(String revision) {
      var first = lagging.entrySet().iterator().next();
      return "workers " + lagging.keySet() + " do not serve " + revision + " (" + first.getKey() + ": "
          + first.getValue() + ")";
    }
  }

  private Rollout() {}

  /** @throws RolloutException when a worker refuses the revision */
  public static Progress advance(WorkerPlacements placements, MoEModel model, long revision, Placement placement,
      Set<Integer> workers) {
    Map<Integer, WorkerVersions> reported = placements.read(model, workers);
    Map<Integer, String> lagging = new TreeMap<>();
    Set<Integer> lacking = new TreeSet<>();
    int staged = 0;
    int active = 0;
    for (int w : workers) {
      WorkerVersions v = reported.get(w);
      if (v == null) {
        lagging.put(w, "unreachable");
      } else if (v.refused().containsKey(revision)) {
        throw new RolloutException("worker " + WorkerPods.name(model, w) + " refused revision " + revision + ": " + v.refused().get(revision));
      } else if (v.serves(revision)) {
        staged++;
        active++;
      } else if (v.holds(revision)) {
        staged++;
        lagging.put(w, "staged it, serves version " + v.active());
      } else if (v.staging(revision)) {
        lagging.put(w, "staging it, serves version " + v.active());
      } else {
        lacking.add(w);
        lagging.put(w, "serves version " + v.active());
      }
    }
    for (int w : placements.stage(model, revision, placement, lacking)) {
      lagging.put(w, lagging.get(w) + ", cannot take it now");
    }
    return new Progress(workers.size(), staged, active, lagging);
  }
}

package dev.moe.operator.testing;

import dev.moe.crds.v1alpha1.MoEModel;
import dev.moe.operator.rollout.PlacementPublisher;
import dev.moe.placement.Placement;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;

/** Stands in for the workers' {@code POST /placement}: records each revision handed over. */
public final class RecordingPublisher implements PlacementPublisher {

  private final List<String> published = new CopyOnWriteArrayList<>();
  private final AtomicBoolean accepting = new AtomicBoolean(true);

  /** While false, workers "cannot take it yet": the rollout stays in progress. */
  public void accepting(boolean value) {
    accepting.set(value);
  }

  /** The revisions handed to one model's workers, in order. */
  public List<Long> published(String ns, String model) {
    String prefix = ns + "/" + model + ":";
    return published.stream().filter(p -> p.startsWith(prefix)).map(p -> Long.parseLong(p.substring(prefix.length())))
        .toList();
  }

  @Override
  public boolean publish(MoEModel model, long revision, Placement placement, Set<Integer> workers) {
    if (!accepting.get()) {
      return false;
    }
    published.add(model.getMetadata().getNamespace() + "/" + model.getMetadata().getName() + ":" + revision);
    return true;
  }
}

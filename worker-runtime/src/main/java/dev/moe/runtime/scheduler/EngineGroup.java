package dev.moe.runtime.scheduler;

import dev.moe.placement.Placement;
import dev.moe.runtime.model.Checkpoint;
import dev.moe.runtime.parallel.CheckpointModel;
import dev.moe.runtime.parallel.LocalGroup;
import dev.moe.runtime.parallel.WorkerNode;
import dev.moe.runtime.parallel.WorkerOptions;
import dev.moe.runtime.rebalance.Placements;
import java.util.ArrayList;
import java.util.List;

/**
 * A serving group inside one process: N workers over TCP on loopback, each with its own engine,
 * stepped by rank 0's clock, as N {@code serve} processes would be. For {@code generate} and tests.
 */
public final class EngineGroup implements AutoCloseable {

  private final LocalGroup group;
  private final List<Engine> engines;

  private EngineGroup(LocalGroup group, List<Engine> engines) {
    this.group = group;
    this.engines = engines;
  }

  /**
   * Starts {@code workers} workers on {@code checkpoint} (kept open by the caller) with {@code
   * placement} as version 1, or a round robin as version 0 when it is null.
   */
  public static EngineGroup start(int workers, Checkpoint checkpoint, Placement placement, WorkerOptions options,
      Engine.Options engine) {
    CheckpointModel model = new CheckpointModel(checkpoint, options.weightDtype());
    Placement p = placement != null ? placement : Placements.roundRobin(model.layers(), model.experts(), workers);
    LocalGroup group = LocalGroup.start(workers, model, p, placement != null ? 1 : 0, options, false);
    List<Engine> engines = new ArrayList<>();
    try {
      for (WorkerNode node : group.nodes()) {
        engines.add(Engine.start(node, checkpoint, engine));
      }
      return new EngineGroup(group, List.copyOf(engines));
    } catch (RuntimeException e) {
      engines.forEach(Engine::close);
      group.close();
      throw e;
    }
  }

  public Engine engine(int rank) {
    return engines.get(rank);
  }

  public WorkerNode node(int rank) {
    return group.nodes().get(rank);
  }

  public int size() {
    return engines.size();
  }

  @Override
  public void close() {
    engines.forEach(Engine::close);
    group.close();
  }
}

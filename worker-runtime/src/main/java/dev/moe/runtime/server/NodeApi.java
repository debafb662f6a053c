package dev.moe.runtime.server;

import dev.moe.placement.Placement;
import dev.moe.placement.PlacementJson;
import dev.moe.runtime.parallel.RemoteException;
import dev.moe.runtime.parallel.WorkerNode;
import dev.moe.stats.RoutingStats;
import java.util.logging.Logger;

/** The HTTP view of a loaded {@link WorkerNode}. */
public final class NodeApi implements WorkerApi {

  private static final Logger LOG = Logger.getLogger(NodeApi.class.getName());

  private final WorkerNode node;
  private final long stageBudgetBytes;

  /** @param stageBudgetBytes weight bytes staged per step for a posted placement */
  public NodeApi(WorkerNode node, long stageBudgetBytes) {
    this.node = node;
    this.stageBudgetBytes = stageBudgetBytes;
  }

  @Override
  public String notReadyReason() {
    return node.notReadyReason();
  }

  @Override
  public byte[] metrics() {
    return node.metrics().scrape();
  }

  @Override
  public String metricsContentType() {
    return node.metrics().contentType();
  }

  @Override
  public RoutingStats routingStats(boolean reset, boolean transitions) {
    return node.routingStats(reset, transitions);
  }

  /** Staging goes on in the background; its outcome shows in {@link #placementStatusJson}. */
  @Override
  public void stagePlacement(long version, byte[] placementJson) {
    // Versions are immutable revisions: posting one again (an operator resuming a rollout) is a no-op.
    if (node.hasVersion(version)) {
      return;
    }
    Placement p = PlacementJson.parse(placementJson, "POST /placement", node.model().experts(), 0);
    try {
      node.stage(version, stageBudgetBytes, p).exceptionally(t -> {
        LOG.warning("worker " + node.rank() + ": placement version " + version + ": " + t.getMessage());
        return null;
      });
    } catch (RemoteException e) {
      throw new IllegalStateException(e.getMessage(), e);
    }
  }

  @Override
  public String placementStatusJson() {
    return node.placementStatusJson();
  }

  @Override
  public String activePlacementJson() {
    return node.activePlacementJson();
  }
}

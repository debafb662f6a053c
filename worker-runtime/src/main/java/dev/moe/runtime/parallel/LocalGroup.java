package dev.moe.runtime.parallel;

import dev.moe.placement.Placement;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * A worker group inside one process: N {@link WorkerNode}s talking over real TCP on loopback, and
 * their {@link WorkerGroup} coordinator. For tests and trace replay; a deployment runs one worker
 * per process ({@code serve}).
 */
public final class LocalGroup implements AutoCloseable {

  private static final InetSocketAddress LOOPBACK = new InetSocketAddress("127.0.0.1", 0);
  private static final Duration CONNECT = Duration.ofSeconds(30);

  private final List<WorkerNode> nodes;
  private final List<InetSocketAddress> addresses;
  private final WorkerGroup group;

  private LocalGroup(List<WorkerNode> nodes, List<InetSocketAddress> addresses, WorkerGroup group) {
    this.nodes = nodes;
    this.addresses = addresses;
    this.group = group;
  }

  /** Starts {@code workers} workers serving {@code placement} as version 1. */
  public static LocalGroup start(int workers, ExpertModel model, Placement placement, WorkerOptions options) {
    List<WorkerNode> nodes = new ArrayList<>();
    List<NettyTransport> transports = new ArrayList<>();
    try {
      for (int r = 0; r < workers; r++) {
        WorkerNode node = new WorkerNode(r, workers, model, placement, 1, options);
        nodes.add(node);
        transports.add(NettyTransport.listen(r, workers, LOOPBACK, node, NettyTransport.DEFAULT_MAX_FRAME_BYTES));
      }
      List<InetSocketAddress> addresses = transports.stream().map(NettyTransport::address).toList();
      for (int r = 0; r < workers; r++) {
        transports.get(r).peers(addresses);
        transports.get(r).connect(CONNECT);
        nodes.get(r).attach(transports.get(r));
      }
      return new LocalGroup(List.copyOf(nodes), addresses, WorkerGroup.connect(addresses, model.hidden(), CONNECT));
    } catch (RuntimeException e) {
      transports.forEach(NettyTransport::close);
      nodes.forEach(WorkerNode::close);
      throw e;
    }
  }

  public WorkerGroup group() {
    return group;
  }

  public List<WorkerNode> nodes() {
    return nodes;
  }

  /** The workers' transport addresses, by rank. */
  public List<InetSocketAddress> addresses() {
    return addresses;
  }

  @Override
  public void close() {
    group.close();
    for (WorkerNode node : nodes) {
      node.close();
    }
  }
}

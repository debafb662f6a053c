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

  /** Starts {@code workers} workers serving {@code placement} as version 1, and their coordinator. */
  public static LocalGroup start(int workers, ExpertModel model, Placement placement, WorkerOptions options) {
    return start(workers, model, placement, 1, options, true);
  }

  /**
   * Starts {@code workers} workers serving {@code placement} as {@code version}; with {@code
   * coordinator}, also a {@link WorkerGroup} that runs steps from outside (trace replay, tests),
   * else none (the workers' own engines step the group).
   */
  public static LocalGroup start(int workers, ExpertModel model, Placement placement, long version,
      WorkerOptions options, boolean coordinator) {
    List<WorkerNode> nodes = new ArrayList<>();
    List<NettyTransport> transports = new ArrayList<>();
    try {
      for (int r = 0; r < workers; r++) {
        WorkerNode node = new WorkerNode(r, workers, model, placement, version, options);
        nodes.add(node);
        transports.add(NettyTransport.listen(r, workers, LOOPBACK, node, NettyTransport.DEFAULT_MAX_FRAME_BYTES, null));
      }
      List<InetSocketAddress> addresses = transports.stream().map(NettyTransport::address).toList();
      for (int r = 0; r < workers; r++) {
        transports.get(r).peers(addresses);
        transports.get(r).connect(CONNECT);
        nodes.get(r).attach(transports.get(r));
      }
      return new LocalGroup(List.copyOf(nodes), addresses,
          coordinator ? WorkerGroup.connect(addresses, model.hidden(), CONNECT) : null);
    } catch (RuntimeException e) {
      transports.forEach(NettyTransport::close);
      nodes.forEach(WorkerNode::close);
      throw e;
    }
  }

  /** The coordinator; only for a group started with one. */
  public WorkerGroup group() {
    if (group == null) {
      throw new IllegalStateException("this group was started without a coordinator");
    }
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
    if (group != null) {
      group.close();
    }
    for (WorkerNode node : nodes) {
      node.close();
    }
  }
}

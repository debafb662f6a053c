package dev.moe.runtime.parallel;

import dev.moe.runtime.parallel.Message.Dispatch;
import dev.moe.runtime.parallel.Message.FetchSlot;
import dev.moe.runtime.parallel.Message.Rows;
import dev.moe.runtime.parallel.Message.SlotCopy;
import dev.moe.runtime.tls.ModelTls;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * {@link Transport} over TCP with Netty: one {@link FrameServer} per worker (which also takes the
 * coordinator's requests) and one {@link FrameClient} connection to each peer.
 *
 * <p>Two phases, so that a group can be started on ephemeral ports: {@link #listen} binds, the
 * addresses are shared, then {@link #peers} and {@link #connect}.
 */
public final class NettyTransport implements Transport {

  /** Frames up to 1 GiB: one bf16 expert of DeepSeek-V3 is 42 MiB, a batch of rows far less. */
  public static final int DEFAULT_MAX_FRAME_BYTES = 1 << 30;

  /** How often lost peers are looked for, and how long one reconnection attempt may take. */
  static final Duration RECONNECT_INTERVAL = Duration.ofMillis(200);
  static final Duration RECONNECT_ATTEMPT = Duration.ofMillis(500);

  private final int rank;
  private final int size;
  private final int maxFrameBytes;
  private final EventLoopGroup group;
  private final ModelTls tls;
  private final FrameServer server;
  private volatile List<InetSocketAddress> peers;
  private volatile FrameClient[] clients;
  private volatile boolean closed;
  private Thread reconnector;

  private NettyTransport(int rank, int size, InetSocketAddress bind, Transport.Handler handler, int maxFrameBytes,
      ModelTls tls) {
    if (size < 1 || rank < 0 || rank >= size) {
      throw new IllegalArgumentException("rank " + rank + " is not in a group of " + size + " workers");
    }
    this.rank = rank;
    this.size = size;
    this.maxFrameBytes = maxFrameBytes;
    this.tls = tls;
    this.group = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
    try {
      this.server = FrameServer.bind(group, bind, maxFrameBytes, handler, tls);
    } catch (RuntimeException e) {
      group.shutdownGracefully(0, 0, TimeUnit.MILLISECONDS);
      throw e;
    }
  }

  /**
   * Binds worker {@code rank}'s server; requests that arrive go to {@code handler}.
   *
   * @param tls the model's TLS identity, for the server and the connections to peers (mutual TLS);
   *     null: plain TCP, for workers of one process or machine
   */
  public static NettyTransport listen(int rank, int size, InetSocketAddress bind, Transport.Handler handler,
      int maxFrameBytes, ModelTls tls) {
    return new NettyTransport(rank, size, bind, handler, maxFrameBytes, tls);
  }

  /** Where this worker listens (the bound port when it was given as 0). */
  public InetSocketAddress address() {
    return server.address();
  }

  /** Every worker's address, by rank (this worker's own included). */
  public void peers(List<InetSocketAddress> addresses) {
    if (addresses.size() != size) {
      throw new IllegalArgumentException("got " + addresses.size() + " worker addresses for a group of " + size);
    }
    this.peers = List.copyOf(addresses);
  }

  @Override
  public int rank() {
    return rank;
  }

  @Override
  public int size() {
    return size;
  }

  @Override
  public void connect(Duration timeout) {
    if (peers == null) {
      throw new IllegalStateException("peer addresses not set");
    }
    FrameClient[] connected = new FrameClient[size];
    for (int p = 0; p < size; p++) {
      if (p != rank) {
        connected[p] = FrameClient.connect(group, peers.get(p), maxFrameBytes, timeout, tls);
      }
    }
    clients = connected;
    reconnector = Thread.ofPlatform().daemon().name("worker-" + rank + "-reconnect").start(this::reconnectLost);
  }

  /** Reconnects peers whose connection was lost (a restarted worker listens again on its address). */
  private void reconnectLost() {
    while (!closed) {
      FrameClient[] c = clients;
      for (int p = 0; p < size && !closed; p++) {
        if (p != rank && !c[p].isOpen()) {
          try {
            FrameClient fresh = FrameClient.connect(group, peers.get(p), maxFrameBytes, RECONNECT_ATTEMPT, tls);
            replace(p, fresh);
          } catch (RemoteException e) {
            // Still down: try again on the next round.
          }
        }
      }
      try {
        Thread.sleep(RECONNECT_INTERVAL.toMillis());
      } catch (InterruptedException e) {
        return;
      }
    }
  }

  private synchronized void replace(int peer, FrameClient fresh) {
    if (closed) {
      fresh.close();
      return;
    }
    FrameClient[] next = clients.clone();
    next[peer] = fresh;
    clients = next;
  }

  @Override
  public boolean connected(int peer) {
    FrameClient[] c = clients;
    return c != null && (peer == rank || c[peer].isOpen());
  }

  @Override
  public CompletableFuture<Rows> dispatch(int peer, Dispatch dispatch) {
    return client(peer).call(dispatch, Rows.class);
  }

  @Override
  public CompletableFuture<SlotCopy> fetchSlot(int peer, FetchSlot fetch) {
    return client(peer).call(fetch, SlotCopy.class);
  }

  @Override
  public <T extends Message> CompletableFuture<T> control(int peer, Message message, Class<T> reply) {
    return client(peer).call(message, reply);
  }

  private FrameClient client(int peer) {
    FrameClient[] c = clients;
    if (c == null) {
      throw new RemoteException(ErrorCode.UNAVAILABLE, "worker " + rank + " is not connected to its peers yet");
    }
    if (peer < 0 || peer >= size || peer == rank) {
      throw new IllegalArgumentException("worker " + rank + " has no peer " + peer + " in a group of " + size);
    }
    return c[peer];
  }

  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    if (reconnector != null) {
      reconnector.interrupt();
    }
    server.close();
    FrameClient[] c = clients;
    if (c != null) {
      for (FrameClient client : c) {
        if (client != null) {
          client.close();
        }
      }
    }
    group.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
  }
}

package dev.moe.runtime.parallel;

import dev.moe.runtime.parallel.Message.ActivePlacement;
import dev.moe.runtime.parallel.Message.PlacementQuery;
import dev.moe.runtime.tls.ModelTls;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * What a (re)starting worker asks its peers before loading weights: which placement the group
 * serves now. A worker that restarts in a running group thus rejoins on the group's active
 * version, not on the placement it was started with, and no new revision is needed.
 */
public final class GroupPlacement {

  private GroupPlacement() {}

  /**
   * The active placement of the peers that answer within {@code timeout} (the newest, should they
   * differ), or null when none does, as when the whole group is starting.
   *
   * @param tls the model's TLS identity (null: plain TCP), as the transport uses it
   */
  public static ActivePlacement ask(List<InetSocketAddress> peers, int rank, Duration timeout, ModelTls tls) {
    EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    try {
      List<CompletableFuture<ActivePlacement>> answers = new ArrayList<>();
      for (int p = 0; p < peers.size(); p++) {
        if (p == rank) {
          continue;
        }
        InetSocketAddress address = peers.get(p);
        answers.add(CompletableFuture.supplyAsync(() -> {
          try (FrameClient client = FrameClient.connect(group, address, NettyTransport.DEFAULT_MAX_FRAME_BYTES,
              timeout, tls)) {
            return client.call(new PlacementQuery(), ActivePlacement.class)
                .get(timeout.toMillis(), TimeUnit.MILLISECONDS);
          } catch (Exception e) {
            return null;  // not up, or not serving yet
          }
        }));
      }
      ActivePlacement newest = null;
      for (CompletableFuture<ActivePlacement> a : answers) {
        ActivePlacement p = a.join();
        if (p != null && (newest == null || p.version() > newest.version())) {
          newest = p;
        }
      }
      return newest;
    } finally {
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    }
  }
}

package dev.moe.runtime.parallel;

import dev.moe.runtime.parallel.FrameDecoder.Corrupt;
import dev.moe.runtime.parallel.FrameDecoder.Frame;
import dev.moe.runtime.parallel.FrameDecoder.Oversize;
import dev.moe.runtime.parallel.FrameEncoder.Outbound;
import dev.moe.runtime.parallel.Message.ErrorReply;
import dev.moe.runtime.tls.ModelTls;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.ssl.SslHandler;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/** One connection to a {@link FrameServer}; requests may overlap, replies are matched by id. */
public final class FrameClient implements AutoCloseable {

  private final Channel channel;
  private final String peer;
  private final AtomicLong nextId = new AtomicLong();
  private final Map<Long, CompletableFuture<Message>> pending = new ConcurrentHashMap<>();

  private FrameClient(Channel channel, String peer) {
    this.channel = channel;
    this.peer = peer;
  }

  /**
   * Connects to {@code address}, retrying until {@code timeout} passes: the peer may still be
   * starting. With {@code tls}, the connection is made once the TLS handshake has completed: this
   * worker presented its certificate and the peer's chains to the model's CA.
   *
   * @param tls the model's TLS identity; null: plain TCP
   */
  public static FrameClient connect(EventLoopGroup group, InetSocketAddress address, int maxFrameBytes,
      Duration timeout, ModelTls tls) {
    long deadline = System.nanoTime() + timeout.toNanos();
    String peer = address.getHostString() + ":" + address.getPort();
    FrameClient[] client = new FrameClient[1];
    Bootstrap bootstrap = new Bootstrap()
        .group(group)
        .channel(NioSocketChannel.class)
        .option(ChannelOption.TCP_NODELAY, true)
        .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, 2_000)
        .handler(new ChannelInitializer<SocketChannel>() {
          @Override
          protected void initChannel(SocketChannel ch) {
            if (tls != null) {
              ch.pipeline().addLast(tls.nettyClient().newHandler(ch.alloc(), address.getHostString(), address.getPort()));
            }
            ch.pipeline().addLast(new FrameDecoder(maxFrameBytes), FrameEncoder.INSTANCE, new ReplyHandler(client));
          }
        });
    Throwable last;
    do {
      // The name is resolved at each attempt: a restarted peer keeps its name (a StatefulSet pod's
      // DNS name) but may come back on another address.
      var future = bootstrap.connect(new InetSocketAddress(address.getHostString(), address.getPort()))
          .awaitUninterruptibly();
      last = future.isSuccess() ? handshakeFailure(future.channel()) : future.cause();
      if (last == null) {
        synchronized (client) {
          client[0] = new FrameClient(future.channel(), peer);
        }
        return client[0];
      }
      try {
        Thread.sleep(50);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
    } while (System.nanoTime() < deadline);
    throw new RemoteException(ErrorCode.UNAVAILABLE, "cannot connect to worker at " + peer + " within "
        + timeout.toMillis() + " ms: " + (last == null ? "interrupted" : last.getMessage()), last);
  }

  /** Why the TLS handshake on {@code channel} failed (the channel then closed); null: it completed, or plain TCP. */
  private static Throwable handshakeFailure(Channel channel) {
    SslHandler tls = channel.pipeline().get(SslHandler.class);
    if (tls == null) {
      return null;
    }
    var handshake = tls.handshakeFuture().awaitUninterruptibly();
    if (handshake.isSuccess()) {
      return null;
    }
    channel.close();
    return handshake.cause();
  }

  public String peer() {
    return peer;
  }

  public boolean isOpen() {
    return channel.isActive();
  }

  /** Sends {@code request}; completes with the reply, or a {@link RemoteException}. */
  public CompletableFuture<Message> call(Message request) {
    CompletableFuture<Message> reply = new CompletableFuture<>();
    long id = nextId.incrementAndGet();
    pending.put(id, reply);
    if (!channel.isActive()) {
      fail(id, "connection to worker at " + peer + " is closed");
      return reply;
    }
    channel.writeAndFlush(new Outbound(id, request)).addListener(f -> {
      if (!f.isSuccess()) {
        fail(id, "cannot send to worker at " + peer + ": " + f.cause());
      }
    });
    return reply;
  }

  /** {@link #call}, failing unless the reply is a {@code type}. */
  public <T extends Message> CompletableFuture<T> call(Message request, Class<T> type) {
    return call(request).thenApply(m -> {
      if (!type.isInstance(m)) {
        throw new RemoteException(ErrorCode.MALFORMED, "worker at " + peer + " answered a "
            + request.getClass().getSimpleName() + " with " + m.getClass().getSimpleName() + ", expected " + type.getSimpleName());
      }
      return type.cast(m);
    });
  }

  private void fail(long id, String why) {
    CompletableFuture<Message> reply = pending.remove(id);
    if (reply != null) {
      reply.completeExceptionally(new RemoteException(ErrorCode.UNAVAILABLE, why));
    }
  }

  @Override
  public void close() {
    channel.close().syncUninterruptibly();
  }

  private void received(Frame frame) {
    CompletableFuture<Message> reply = pending.remove(frame.requestId());
    try {
      if (reply == null) {
        return;
      }
      Message m = MessageCodec.decode(frame.type(), frame.body());
      if (m instanceof ErrorReply e) {
        reply.completeExceptionally(new RemoteException(e.code(), "worker at " + peer + ": " + e.message()));
      } else {
        reply.complete(m);
      }
    } catch (RuntimeException e) {
      reply.completeExceptionally(e);
    } finally {
      frame.body().release();
    }
  }

  private void closed() {
    for (Long id : pending.keySet()) {
      fail(id, "connection to worker at " + peer + " closed with the request in flight");
    }
  }

  /** Hands replies to the client; created before the client exists, hence the indirection. */
  private static final class ReplyHandler extends ChannelInboundHandlerAdapter {

    private final FrameClient[] client;

    ReplyHandler(FrameClient[] client) {
      this.client = client;
    }

    private FrameClient client() {
      synchronized (client) {
        return client[0];
      }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      switch (msg) {
        case Frame frame -> {
          FrameClient c = client();
          if (c == null) {
            frame.body().release();
          } else {
            c.received(frame);
          }
        }
        case Oversize o -> {
          FrameClient c = client();
          if (c != null) {
            CompletableFuture<Message> reply = c.pending.remove(o.requestId());
            if (reply != null) {
              reply.completeExceptionally(new RemoteException(ErrorCode.OVERSIZE,
                  "the reply from worker at " + c.peer + " (" + o.bytes() + " bytes) is over the frame limit"));
            }
          }
        }
        case Corrupt c -> ctx.close();
        default -> throw new IllegalStateException("unexpected inbound object " + msg);
      }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      FrameClient c = client();
      if (c != null) {
        c.closed();
      }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      ctx.close();
    }
  }
}

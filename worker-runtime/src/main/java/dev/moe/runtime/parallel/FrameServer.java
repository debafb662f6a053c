package dev.moe.runtime.parallel;

import dev.moe.runtime.parallel.FrameDecoder.Corrupt;
import dev.moe.runtime.parallel.FrameDecoder.Frame;
import dev.moe.runtime.parallel.FrameDecoder.Oversize;
import dev.moe.runtime.parallel.FrameEncoder.Outbound;
import dev.moe.runtime.parallel.Message.ErrorReply;
import dev.moe.runtime.tls.ModelTls;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.netty.util.concurrent.GlobalEventExecutor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Accepts frame connections and answers each request through a {@link Transport.Handler}. Nothing a
 * client sends can take the server down: undecodable frames, oversize frames and failing handlers
 * all become an {@link ErrorReply} to that request.
 *
 * <p>With {@link ModelTls}, every connection is mutual TLS: a client without a certificate of the
 * model is refused at the handshake, and TLS stands first in the pipeline, so no byte reaches the
 * frame decoder before the handshake has completed.
 */
public final class FrameServer implements AutoCloseable {

  private static final Logger LOG = Logger.getLogger(FrameServer.class.getName());

  private final Channel channel;
  private final ChannelGroup connections = new DefaultChannelGroup(GlobalEventExecutor.INSTANCE);

  private FrameServer(EventLoopGroup group, InetSocketAddress address, int maxFrameBytes,
      Transport.Handler handler, ModelTls tls) {
    FrameServer self = this;
    try {
      channel = new ServerBootstrap()
          .group(group)
          .channel(NioServerSocketChannel.class)
          .childOption(ChannelOption.TCP_NODELAY, true)
          .childHandler(new ChannelInitializer<SocketChannel>() {
            @Override
            protected void initChannel(SocketChannel ch) {
              self.connections.add(ch);
              if (tls != null) {
                ch.pipeline().addLast(tls.nettyServer().newHandler(ch.alloc()));
              }
              ch.pipeline().addLast(new FrameDecoder(maxFrameBytes), FrameEncoder.INSTANCE,
                  new RequestHandler(handler, maxFrameBytes));
            }
          })
          .bind(address)
          .sync()
          .channel();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while binding " + address, e);
    } catch (Exception e) {
      throw new UncheckedIOException(new IOException("cannot listen on " + address + ": " + e.getMessage(), e));
    }
  }

  /**
   * Listens on {@code address} (port 0: any free port).
   *
   * @param tls the model's TLS identity; null: plain TCP, for workers of one process or machine
   */
  public static FrameServer bind(EventLoopGroup group, InetSocketAddress address, int maxFrameBytes,
      Transport.Handler handler, ModelTls tls) {
    return new FrameServer(group, address, maxFrameBytes, handler, tls);
  }

  public InetSocketAddress address() {
    return (InetSocketAddress) channel.localAddress();
  }

  /** Stops accepting and closes every connection. */
  @Override
  public void close() {
    channel.close().syncUninterruptibly();
    connections.close().syncUninterruptibly();
  }

  /** The error reply for a failed request: its {@link RemoteException} code, else INTERNAL. */
  static ErrorReply errorReply(Throwable failure) {
    Throwable t = failure;
    while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) {
      t = t.getCause();
    }
    if (t instanceof RemoteException e) {
      return new ErrorReply(e.code(), e.getMessage());
    }
    return new ErrorReply(ErrorCode.INTERNAL, t.toString());
  }

  private static final class RequestHandler extends ChannelInboundHandlerAdapter {

    private final Transport.Handler handler;
    private final int maxFrameBytes;

    RequestHandler(Transport.Handler handler, int maxFrameBytes) {
      this.handler = handler;
      this.maxFrameBytes = maxFrameBytes;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      switch (msg) {
        case Frame frame -> serve(ctx, frame);
        case Oversize o -> ctx.writeAndFlush(new Outbound(o.requestId(), new ErrorReply(ErrorCode.OVERSIZE,
            "a " + MessageCodec.name(o.type()) + " request of " + o.bytes() + " bytes is over this worker's limit of "
                + maxFrameBytes + " bytes")));
        case Corrupt c -> {
          LOG.warning("closing " + ctx.channel().remoteAddress() + ": frame length " + c.length() + " is below the header size");
          ctx.writeAndFlush(new Outbound(-1, new ErrorReply(ErrorCode.MALFORMED,
              "frame length " + c.length() + " is below the " + MessageCodec.HEADER_BYTES + "-byte header; closing")))
              .addListener(f -> ctx.close());
        }
        default -> throw new IllegalStateException("unexpected inbound object " + msg);
      }
    }

    private void serve(ChannelHandlerContext ctx, Frame frame) {
      Message request;
      try {
        request = MessageCodec.decode(frame.type(), frame.body());
      } catch (RuntimeException e) {
        ctx.writeAndFlush(new Outbound(frame.requestId(), errorReply(e)));
        return;
      } finally {
        frame.body().release();
      }
      CompletableFuture<Message> reply;
      try {
        reply = handler.handle(request);
      } catch (RuntimeException e) {
        reply = CompletableFuture.failedFuture(e);
      }
      reply.whenComplete((m, t) -> ctx.writeAndFlush(new Outbound(frame.requestId(), t == null ? m : errorReply(t))));
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object event) {
      if (event instanceof SslHandshakeCompletionEvent done && !done.isSuccess()) {
        LOG.warning("refused a transport connection from " + ctx.channel().remoteAddress() + " at the TLS handshake: "
            + done.cause().getMessage());
      }
      ctx.fireUserEventTriggered(event);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      LOG.log(Level.FINE, "connection from " + ctx.channel().remoteAddress() + " failed", cause);
      ctx.close();
    }
  }
}

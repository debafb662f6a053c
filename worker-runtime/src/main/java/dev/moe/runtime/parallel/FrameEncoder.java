package dev.moe.runtime.parallel;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.MessageToByteEncoder;

/** Writes {@link Outbound} messages as frames. */
@ChannelHandler.Sharable
final class FrameEncoder extends MessageToByteEncoder<FrameEncoder.Outbound> {

  record Outbound(long requestId, Message message) {}

  static final FrameEncoder INSTANCE = new FrameEncoder();

  private FrameEncoder() {
    super(Outbound.class);
  }

  /** Sized for the whole frame up front, so that big row blocks are not copied while growing. */
  @Override
  protected ByteBuf allocateBuffer(ChannelHandlerContext ctx, Outbound frame, boolean preferDirect) {
    return ctx.alloc().ioBuffer(MessageCodec.sizeHint(frame.message()));
  }

  @Override
  protected void encode(ChannelHandlerContext ctx, Outbound frame, ByteBuf out) {
    MessageCodec.writeFrame(frame.requestId(), frame.message(), out);
  }
}

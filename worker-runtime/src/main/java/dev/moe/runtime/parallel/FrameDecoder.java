package dev.moe.runtime.parallel;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import java.util.List;

/**
 * Splits the byte stream into frames ({@link MessageCodec}'s layout). A frame over the size limit
 * is skipped without being buffered and announced as {@link Oversize}, so that the sender gets an
 * error reply for that request and the connection stays usable.
 */
final class FrameDecoder extends ByteToMessageDecoder {

  /** A whole frame; the receiver releases {@code body}. */
  record Frame(byte type, long requestId, ByteBuf body) {}

  record Oversize(byte type, long requestId, long bytes) {}

  /** A length below the header: the stream cannot be resynchronised. */
  record Corrupt(int length) {}

  private final int maxFrameBytes;
  private long discarding;

  FrameDecoder(int maxFrameBytes) {
    this.maxFrameBytes = maxFrameBytes;
  }

  @Override
  protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
    if (discarding > 0) {
      int skip = (int) Math.min(discarding, in.readableBytes());
      in.skipBytes(skip);
      discarding -= skip;
      return;
    }
    if (in.readableBytes() < 4 + MessageCodec.HEADER_BYTES) {
      return;
    }
    int at = in.readerIndex();
    int length = in.getIntLE(at);
    if (length < MessageCodec.HEADER_BYTES) {
      in.skipBytes(in.readableBytes());
      out.add(new Corrupt(length));
      return;
    }
    if (length > maxFrameBytes) {
      byte type = in.getByte(at + 4);
      long requestId = in.getLongLE(at + 5);
      in.skipBytes(4 + MessageCodec.HEADER_BYTES);
      discarding = length - MessageCodec.HEADER_BYTES;
      out.add(new Oversize(type, requestId, length));
      return;
    }
    if (in.readableBytes() < 4 + length) {
      return;
    }
    in.skipBytes(4);
    byte type = in.readByte();
    long requestId = in.readLongLE();
    out.add(new Frame(type, requestId, in.readRetainedSlice(length - MessageCodec.HEADER_BYTES)));
  }
}

package dev.moe.runtime.parallel;

import dev.moe.runtime.parallel.Message.Ack;
import dev.moe.runtime.parallel.Message.ActivePlacement;
import dev.moe.runtime.parallel.Message.Dispatch;
import dev.moe.runtime.parallel.Message.ErrorReply;
import dev.moe.runtime.parallel.Message.FetchSlot;
import dev.moe.runtime.parallel.Message.ForcedRouting;
import dev.moe.runtime.parallel.Message.PlacementQuery;
import dev.moe.runtime.parallel.Message.Release;
import dev.moe.runtime.parallel.Message.Rows;
import dev.moe.runtime.parallel.Message.SlotCopy;
import dev.moe.runtime.parallel.Message.Stage;
import dev.moe.runtime.parallel.Message.StatusRequest;
import dev.moe.runtime.parallel.Message.Step;
import dev.moe.runtime.parallel.Message.StepBegin;
import dev.moe.runtime.parallel.Message.StepEnd;
import dev.moe.runtime.parallel.Message.StepResult;
import dev.moe.runtime.parallel.Message.Wake;
import dev.moe.runtime.parallel.Message.WorkerStatus;
import io.netty.buffer.ByteBuf;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Binary encoding of {@link Message}s, all little-endian: a frame is {@code int32 length} (of what
 * follows), {@code uint8 type}, {@code int64 request id}, then the body. Arrays are an {@code
 * int32} count and the elements; float rows travel as raw IEEE-754 bytes, so they arrive bit-exact.
 * Decoding trusts no count: a body that does not hold what its counts announce is {@link
 * MalformedMessageException}, before anything is allocated for it.
 */
public final class MessageCodec {

  /** Bytes before the body: type and request id (the length field excluded). */
  public static final int HEADER_BYTES = 1 + 8;

  static final byte STEP = 1;
  static final byte STEP_RESULT = 2;
  static final byte DISPATCH = 3;
  static final byte ROWS = 4;
  static final byte FETCH_SLOT = 5;
  static final byte SLOT_COPY = 6;
  static final byte STAGE = 7;
  static final byte RELEASE = 8;
  static final byte STATUS_REQUEST = 9;
  static final byte WORKER_STATUS = 10;
  static final byte ACK = 11;
  static final byte ERROR = 12;
  static final byte STEP_BEGIN = 13;
  static final byte STEP_END = 14;
  static final byte WAKE = 15;
  static final byte PLACEMENT_QUERY = 16;
  static final byte ACTIVE_PLACEMENT = 17;

  private MessageCodec() {}

  /** Writes one whole frame. */
  public static void writeFrame(long requestId, Message message, ByteBuf out) {
    int start = out.writerIndex();
    out.writeIntLE(0);
    out.writeByte(type(message));
    out.writeLongLE(requestId);
    writeBody(message, out);
    out.setIntLE(start, out.writerIndex() - start - 4);
  }

  /** About the encoded size of a frame: its bulk arrays plus a margin for the fixed fields. */
  static int sizeHint(Message message) {
    long bulk = switch (message) {
      case Step m -> 4L * m.x().length + (m.forced() == null ? 0
          : 8L * Arrays.stream(m.forced().ids()).mapToLong(a -> a.length).sum());
      case StepResult m -> 4L * m.y().length + 8L * (m.rowsTo().length + 2L * m.computeNanos().length)
          + 8L * Arrays.stream(m.ids()).mapToLong(a -> a.length).sum();
      case Dispatch m -> 4L * (m.x().length + m.slots().length + m.offsets().length);
      case Rows m -> 4L * m.y().length;
      case SlotCopy m -> m.bytes().length;
      case Stage m -> m.placementJson().length;
      case ActivePlacement m -> m.placementJson().length;
      case StepEnd m -> 8L * m.staged().length + 3L * m.failure().length();
      case ErrorReply m -> 3L * m.message().length();
      default -> 0;
    };
    return (int) Math.min(Integer.MAX_VALUE - 8, 128 + bulk);
  }

  static byte type(Message message) {
    return switch (message) {
      case Step m -> STEP;
      case StepResult m -> STEP_RESULT;
      case Dispatch m -> DISPATCH;
      case Rows m -> ROWS;
      case FetchSlot m -> FETCH_SLOT;
      case SlotCopy m -> SLOT_COPY;
      case Stage m -> STAGE;
      case Release m -> RELEASE;
      case StatusRequest m -> STATUS_REQUEST;
      case WorkerStatus m -> WORKER_STATUS;
      case Ack m -> ACK;
      case ErrorReply m -> ERROR;
      case StepBegin m -> STEP_BEGIN;
      case StepEnd m -> STEP_END;
      case Wake m -> WAKE;
      case PlacementQuery m -> PLACEMENT_QUERY;
      case ActivePlacement m -> ACTIVE_PLACEMENT;
    };
  }

  private static void writeBody(Message message, ByteBuf out) {
    switch (message) {
      case Step m -> {
        out.writeLongLE(m.step());
        out.writeLongLE(m.version());
        writeInts(out, m.layers());
        out.writeIntLE(m.tokens());
        out.writeIntLE(m.hidden());
        out.writeLongLE(m.firstKey());
        writeFloats(out, m.x());
        out.writeBoolean(m.forced() != null);
        if (m.forced() != null) {
          out.writeIntLE(m.forced().k());
          out.writeIntLE(m.forced().ids().length);
          for (int i = 0; i < m.forced().ids().length; i++) {
            writeInts(out, m.forced().ids()[i]);
            writeFloats(out, m.forced().weights()[i]);
          }
        }
      }
      case StepResult m -> {
        writeFloats(out, m.y());
        out.writeIntLE(m.k());
        out.writeIntLE(m.ids().length);
        for (int i = 0; i < m.ids().length; i++) {
          writeInts(out, m.ids()[i]);
          writeFloats(out, m.weights()[i]);
        }
        writeLongs(out, m.rowsTo());
        writeLongs(out, m.computeNanos());
        writeLongs(out, m.cpuNanos());
      }
      case Dispatch m -> {
        out.writeLongLE(m.step());
        out.writeIntLE(m.layer());
        out.writeLongLE(m.version());
        out.writeIntLE(m.hidden());
        writeInts(out, m.slots());
        writeInts(out, m.offsets());
        writeFloats(out, m.x());
      }
      case Rows m -> {
        writeFloats(out, m.y());
        out.writeLongLE(m.computeNanos());
        out.writeLongLE(m.cpuNanos());
      }
      case FetchSlot m -> {
        out.writeLongLE(m.version());
        out.writeIntLE(m.layer());
        out.writeIntLE(m.expert());
      }
      case SlotCopy m -> {
        writeBytes(out, m.bytes());
        out.writeLongLE(m.checksum());
      }
      case Stage m -> {
        out.writeLongLE(m.version());
        out.writeLongLE(m.budgetBytes());
        writeBytes(out, m.placementJson());
      }
      case Release m -> out.writeLongLE(m.version());
      case StatusRequest m -> {}
      case WorkerStatus m -> {
        out.writeIntLE(m.rank());
        out.writeBoolean(m.ready());
        out.writeLongLE(m.activeVersion());
        writeLongs(out, m.staged());
      }
      case Ack m -> {}
      case ErrorReply m -> {
        out.writeByte(m.code().ordinal());
        writeBytes(out, m.message().getBytes(StandardCharsets.UTF_8));
      }
      case StepBegin m -> {
        out.writeLongLE(m.step());
        out.writeLongLE(m.version());
        out.writeIntLE(m.clock());
      }
      case StepEnd m -> {
        out.writeLongLE(m.step());
        out.writeBoolean(m.busy());
        writeLongs(out, m.staged());
        writeBytes(out, m.failure().getBytes(StandardCharsets.UTF_8));
      }
      case Wake m -> {}
      case PlacementQuery m -> {}
      case ActivePlacement m -> {
        out.writeLongLE(m.version());
        writeBytes(out, m.placementJson());
      }
    }
  }

  /** Decodes a body; it must be consumed exactly. */
  public static Message decode(byte type, ByteBuf in) {
    Message message = switch (type) {
      case STEP -> decodeStep(in);
      case STEP_RESULT -> decodeStepResult(in);
      case DISPATCH -> new Dispatch(readLong(in), readInt(in), readLong(in), readInt(in), readInts(in, "slots"),
          readInts(in, "offsets"), readFloats(in, "rows"));
      case ROWS -> new Rows(readFloats(in, "rows"), readLong(in), readLong(in));
      case FETCH_SLOT -> new FetchSlot(readLong(in), readInt(in), readInt(in));
      case SLOT_COPY -> new SlotCopy(readBytes(in, "slot bytes"), readLong(in));
      case STAGE -> new Stage(readLong(in), readLong(in), readBytes(in, "placement"));
      case RELEASE -> new Release(readLong(in));
      case STATUS_REQUEST -> new StatusRequest();
      case WORKER_STATUS -> new WorkerStatus(readInt(in), readBoolean(in), readLong(in), readLongs(in, "staged"));
      case ACK -> new Ack();
      case ERROR -> new ErrorReply(ErrorCode.fromOrdinal(readByte(in)),
          new String(readBytes(in, "error message"), StandardCharsets.UTF_8));
      case STEP_BEGIN -> new StepBegin(readLong(in), readLong(in), readInt(in));
      case STEP_END -> new StepEnd(readLong(in), readBoolean(in), readLongs(in, "staged"),
          new String(readBytes(in, "failure"), StandardCharsets.UTF_8));
      case WAKE -> new Wake();
      case PLACEMENT_QUERY -> new PlacementQuery();
      case ACTIVE_PLACEMENT -> new ActivePlacement(readLong(in), readBytes(in, "placement"));
      default -> throw new MalformedMessageException("unknown message type " + type);
    };
    if (in.isReadable()) {
      throw new MalformedMessageException(in.readableBytes() + " unexpected bytes after a " + name(type) + " message");
    }
    return message;
  }

  private static Step decodeStep(ByteBuf in) {
    long step = readLong(in);
    long version = readLong(in);
    int[] layers = readInts(in, "layers");
    int tokens = readInt(in);
    int hidden = readInt(in);
    long firstKey = readLong(in);
    float[] x = readFloats(in, "x");
    ForcedRouting forced = null;
    if (readBoolean(in)) {
      int k = readInt(in);
      int n = readInt(in);
      if (n != layers.length) {
        throw new MalformedMessageException("forced routing for " + n + " layers, the step has " + layers.length);
      }
      int[][] ids = new int[n][];
      float[][] weights = new float[n][];
      for (int i = 0; i < n; i++) {
        ids[i] = readInts(in, "forced ids");
        weights[i] = readFloats(in, "forced weights");
      }
      forced = new ForcedRouting(k, ids, weights);
    }
    return new Step(step, version, layers, tokens, hidden, firstKey, x, forced);
  }

  private static StepResult decodeStepResult(ByteBuf in) {
    float[] y = readFloats(in, "y");
    int k = readInt(in);
    int layers = readCount(in, 8, "routed layers");
    int[][] ids = new int[layers][];
    float[][] weights = new float[layers][];
    for (int i = 0; i < layers; i++) {
      ids[i] = readInts(in, "routing ids");
      weights[i] = readFloats(in, "routing weights");
    }
    return new StepResult(y, k, ids, weights, readLongs(in, "rowsTo"), readLongs(in, "computeNanos"),
        readLongs(in, "cpuNanos"));
  }

  static String name(byte type) {
    return switch (type) {
      case STEP -> "step";
      case STEP_RESULT -> "step result";
      case DISPATCH -> "dispatch";
      case ROWS -> "rows";
      case FETCH_SLOT -> "fetch-slot";
      case SLOT_COPY -> "slot copy";
      case STAGE -> "stage";
      case RELEASE -> "release";
      case STATUS_REQUEST -> "status request";
      case WORKER_STATUS -> "worker status";
      case ACK -> "ack";
      case ERROR -> "error";
      case STEP_BEGIN -> "step begin";
      case STEP_END -> "step end";
      case WAKE -> "wake";
      case PLACEMENT_QUERY -> "placement query";
      case ACTIVE_PLACEMENT -> "active placement";
      default -> "type-" + type;
    };
  }

  private static void writeInts(ByteBuf out, int[] a) {
    out.writeIntLE(a.length);
    out.ensureWritable(a.length * 4);
    for (int v : a) {
      out.writeIntLE(v);
    }
  }

  private static void writeLongs(ByteBuf out, long[] a) {
    out.writeIntLE(a.length);
    out.ensureWritable(a.length * 8);
    for (long v : a) {
      out.writeLongLE(v);
    }
  }

  private static void writeBytes(ByteBuf out, byte[] a) {
    out.writeIntLE(a.length);
    out.writeBytes(a);
  }

  /** Rows are the bulk of the traffic: copied in one block through a little-endian view. */
  private static void writeFloats(ByteBuf out, float[] a) {
    int bytes = Math.multiplyExact(a.length, 4);
    out.writeIntLE(a.length);
    out.ensureWritable(bytes);
    int at = out.writerIndex();
    if (out.nioBufferCount() == 1) {
      out.nioBuffer(at, bytes).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().put(a);
      out.writerIndex(at + bytes);
    } else {
      for (float v : a) {
        out.writeFloatLE(v);
      }
    }
  }

  private static float[] readFloats(ByteBuf in, String what) {
    int n = readCount(in, 4, what);
    float[] a = new float[n];
    int bytes = n * 4;
    if (in.nioBufferCount() == 1) {
      in.nioBuffer(in.readerIndex(), bytes).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(a);
      in.skipBytes(bytes);
    } else {
      for (int i = 0; i < n; i++) {
        a[i] = in.readFloatLE();
      }
    }
    return a;
  }

  private static int[] readInts(ByteBuf in, String what) {
    int[] a = new int[readCount(in, 4, what)];
    for (int i = 0; i < a.length; i++) {
      a[i] = in.readIntLE();
    }
    return a;
  }

  private static long[] readLongs(ByteBuf in, String what) {
    long[] a = new long[readCount(in, 8, what)];
    for (int i = 0; i < a.length; i++) {
      a[i] = in.readLongLE();
    }
    return a;
  }

  private static byte[] readBytes(ByteBuf in, String what) {
    byte[] a = new byte[readCount(in, 1, what)];
    in.readBytes(a);
    return a;
  }

  /** A count whose elements must all be in the body already. */
  private static int readCount(ByteBuf in, int elementBytes, String what) {
    int n = readInt(in);
    if (n < 0 || (long) n * elementBytes > in.readableBytes()) {
      throw new MalformedMessageException(what + " announces " + n + " elements but " + in.readableBytes()
          + " bytes remain");
    }
    return n;
  }

  private static int readInt(ByteBuf in) {
    need(in, 4);
    return in.readIntLE();
  }

  private static long readLong(ByteBuf in) {
    need(in, 8);
    return in.readLongLE();
  }

  private static int readByte(ByteBuf in) {
    need(in, 1);
    return in.readUnsignedByte();
  }

  private static boolean readBoolean(ByteBuf in) {
    need(in, 1);
    return in.readBoolean();
  }

  private static void need(ByteBuf in, int bytes) {
    if (in.readableBytes() < bytes) {
      throw new MalformedMessageException("truncated: needed " + bytes + " more bytes, " + in.readableBytes() + " remain");
    }
  }
}

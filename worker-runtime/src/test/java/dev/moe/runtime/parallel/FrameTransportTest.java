package dev.moe.runtime.parallel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moe.runtime.parallel.Message.Ack;
import dev.moe.runtime.parallel.Message.Dispatch;
import dev.moe.runtime.parallel.Message.ErrorReply;
import dev.moe.runtime.parallel.Message.FetchSlot;
import dev.moe.runtime.parallel.Message.ForcedRouting;
import dev.moe.runtime.parallel.Message.Rows;
import dev.moe.runtime.parallel.Message.SlotCopy;
import dev.moe.runtime.parallel.Message.Stage;
import dev.moe.runtime.parallel.Message.Step;
import dev.moe.runtime.parallel.Message.StepResult;
import dev.moe.runtime.parallel.Message.WorkerStatus;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The wire format and the Netty frame layer, with a stand-in handler: no native code. */
class FrameTransportTest {

  private static final InetSocketAddress LOOPBACK = new InetSocketAddress("127.0.0.1", 0);

  private EventLoopGroup group;

  @BeforeEach
  void start() {
    group = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
  }

  @AfterEach
  void stop() {
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
  }

  private static Message roundTrip(Message m) {
    ByteBuf buf = Unpooled.buffer();
    MessageCodec.writeFrame(42, m, buf);
    assertEquals(buf.readableBytes() - 4, buf.readIntLE(), "length field");
    byte type = buf.readByte();
    assertEquals(42, buf.readLongLE());
    return MessageCodec.decode(type, buf);
  }

  @Test
  void everyMessageSurvivesEncoding() {
    float[] x = {1.5f, -0f, Float.MIN_VALUE, Float.NaN, 3e38f, -7f};
    Step step = (Step) roundTrip(new Step(9, 3, new int[] {1, 2}, 3, 2, 100, x,
        new ForcedRouting(1, new int[][] {{0, 1, 2}, {3, 4, 5}}, new float[][] {{1, 1, 1}, {.5f, .5f, .5f}})));
    assertEquals(9, step.step());
    assertEquals(3, step.version());
    assertArrayEquals(new int[] {1, 2}, step.layers());
    assertEquals(100, step.firstKey());
    // Bit-exact, NaN and negative zero included: rows must come back exactly as sent.
    for (int i = 0; i < x.length; i++) {
      assertEquals(Float.floatToRawIntBits(x[i]), Float.floatToRawIntBits(step.x()[i]));
    }
    assertArrayEquals(new int[] {3, 4, 5}, step.forced().ids()[1]);
    assertArrayEquals(new float[] {.5f, .5f, .5f}, step.forced().weights()[1]);

    Dispatch d = (Dispatch) roundTrip(new Dispatch(1, 2, 3, 2, new int[] {0, 4}, new int[] {0, 1, 3}, x));
    assertEquals(3, d.rows());
    assertArrayEquals(new int[] {0, 4}, d.slots());
    assertInstanceOf(Step.class, roundTrip(new Step(1, 1, new int[] {0}, 0, 4, 0, new float[0], null)));
    Rows r = (Rows) roundTrip(new Rows(x, 77, 66));
    assertEquals(77, r.computeNanos());
    assertEquals(66, r.cpuNanos());
    StepResult sr = (StepResult) roundTrip(new StepResult(x, 2, new int[][] {{1, 0, 3, 2}}, new float[][] {{.5f, .5f,
        .25f, .75f}}, new long[] {1, 2}, new long[] {3, 4}, new long[] {5, 6}));
    assertArrayEquals(new long[] {3, 4}, sr.computeNanos());
    assertArrayEquals(new long[] {5, 6}, sr.cpuNanos());
    assertEquals(2, sr.k());
    assertArrayEquals(new int[] {1, 0, 3, 2}, sr.ids()[0]);
    assertArrayEquals(new float[] {.5f, .5f, .25f, .75f}, sr.weights()[0]);
    SlotCopy sc = (SlotCopy) roundTrip(new SlotCopy(new byte[] {1, 2, 3}, -5));
    assertEquals(-5, sc.checksum());
    assertArrayEquals(new byte[] {1, 2, 3}, sc.bytes());
    assertEquals(new FetchSlot(1, 2, 3), roundTrip(new FetchSlot(1, 2, 3)));
    Stage st = (Stage) roundTrip(new Stage(5, 1000, "{}".getBytes()));
    assertEquals(1000, st.budgetBytes());
    WorkerStatus ws = (WorkerStatus) roundTrip(new WorkerStatus(2, true, 4, new long[] {4, 5}));
    assertArrayEquals(new long[] {4, 5}, ws.staged());
    assertInstanceOf(Ack.class, roundTrip(new Ack()));
    assertEquals(new ErrorReply(ErrorCode.UNKNOWN_LAYER, "layer 7 — not MoE"),
        roundTrip(new ErrorReply(ErrorCode.UNKNOWN_LAYER, "layer 7 — not MoE")));
  }

  @Test
  void lyingCountsAreMalformedBeforeAnyAllocation() {
    ByteBuf body = Unpooled.buffer();
    body.writeLongLE(1).writeIntLE(0).writeLongLE(1).writeIntLE(4);
    body.writeIntLE(0).writeIntLE(0);
    body.writeIntLE(Integer.MAX_VALUE); // a billion rows announced, none present
    MalformedMessageException e = assertThrows(MalformedMessageException.class,
        () -> MessageCodec.decode(MessageCodec.DISPATCH, body));
    assertTrue(e.getMessage().contains("announces 2147483647"), e.getMessage());
    assertThrows(MalformedMessageException.class, () -> MessageCodec.decode((byte) 99, Unpooled.buffer()));
    ByteBuf trailing = Unpooled.buffer();
    trailing.writeLongLE(1).writeByte(0);
    assertTrue(assertThrows(MalformedMessageException.class, () -> MessageCodec.decode(MessageCodec.RELEASE, trailing))
        .getMessage().contains("unexpected bytes"));
  }

  /** Echoes dispatched rows doubled; fails fetches with a code; never answers anything else well. */
  private static CompletableFuture<Message> handler(Message m) {
    return switch (m) {
      case Dispatch d -> {
        float[] y = d.x().clone();
        for (int i = 0; i < y.length; i++) {
          y[i] *= 2;
        }
        yield CompletableFuture.completedFuture(new Rows(y, 1, 1));
      }
      case FetchSlot f -> CompletableFuture.failedFuture(new RemoteException(ErrorCode.UNKNOWN_VERSION,
          "placement version " + f.version() + " is not staged here"));
      default -> throw new IllegalStateException("boom: " + m.getClass().getSimpleName());
    };
  }

  @Test
  void repliesMatchRequestsAndErrorsComeBackAsCodes() {
    try (FrameServer server = FrameServer.bind(group, LOOPBACK, 1 << 20, FrameTransportTest::handler, null);
        FrameClient client = FrameClient.connect(group, server.address(), 1 << 20, Duration.ofSeconds(5), null)) {
      List<CompletableFuture<Rows>> replies = new ArrayList<>();
      for (int i = 0; i < 50; i++) {
        replies.add(client.call(new Dispatch(i, 0, 1, 1, new int[] {0}, new int[] {0, 1}, new float[] {i}), Rows.class));
      }
      for (int i = 0; i < 50; i++) {
        assertEquals(2f * i, replies.get(i).join().y()[0]);
      }
      RemoteException unknown = remoteFailure(client.call(new FetchSlot(7, 0, 0)));
      assertEquals(ErrorCode.UNKNOWN_VERSION, unknown.code());
      assertTrue(unknown.getMessage().contains("version 7"), unknown.getMessage());
      RemoteException crashed = remoteFailure(client.call(new Ack()));
      assertEquals(ErrorCode.INTERNAL, crashed.code());
      assertTrue(crashed.getMessage().contains("boom"), crashed.getMessage());
      // The connection survived both.
      assertEquals(6f, client.call(new Dispatch(0, 0, 1, 1, new int[] {0}, new int[] {0, 1}, new float[] {3}), Rows.class)
          .join().y()[0]);
    }
  }

  @Test
  void oversizeFrameIsRefusedAndTheConnectionStaysUsable() {
    try (FrameServer server = FrameServer.bind(group, LOOPBACK, 4096, FrameTransportTest::handler, null);
        FrameClient client = FrameClient.connect(group, server.address(), 1 << 20, Duration.ofSeconds(5), null)) {
      RemoteException e = remoteFailure(client.call(
          new Dispatch(0, 0, 1, 1, new int[] {0}, new int[] {0, 4000}, new float[4000])));
      assertEquals(ErrorCode.OVERSIZE, e.code());
      assertTrue(e.getMessage().contains("limit of 4096 bytes"), e.getMessage());
      assertEquals(2f, client.call(new Dispatch(0, 0, 1, 1, new int[] {0}, new int[] {0, 1}, new float[] {1}), Rows.class)
          .join().y()[0]);
    }
  }

  @Test
  void garbageFromARawSocketGetsAnErrorReplyNotACrash() throws IOException {
    try (FrameServer server = FrameServer.bind(group, LOOPBACK, 1 << 20, FrameTransportTest::handler, null);
        Socket socket = new Socket("127.0.0.1", server.address().getPort())) {
      OutputStream out = socket.getOutputStream();
      // A dispatch frame whose body stops halfway through its header.
      ByteBuffer frame = ByteBuffer.allocate(4 + 9 + 6).order(ByteOrder.LITTLE_ENDIAN);
      frame.putInt(9 + 6).put(MessageCodec.DISPATCH).putLong(5).putInt(1).putShort((short) 0);
      out.write(frame.array());
      out.flush();
      ErrorReply reply = readReply(socket.getInputStream(), 5);
      assertEquals(ErrorCode.MALFORMED, reply.code());
      assertTrue(reply.message().contains("truncated"), reply.message());
    }
    // The server still serves others.
    try (FrameServer server = FrameServer.bind(group, LOOPBACK, 1 << 20, FrameTransportTest::handler, null);
        FrameClient client = FrameClient.connect(group, server.address(), 1 << 20, Duration.ofSeconds(5), null)) {
      assertEquals(2f, client.call(new Dispatch(0, 0, 1, 1, new int[] {0}, new int[] {0, 1}, new float[] {1}), Rows.class)
          .join().y()[0]);
    }
  }

  @Test
  void lostConnectionFailsPendingRequests() {
    CompletableFuture<Message> never = new CompletableFuture<>();
    FrameServer server = FrameServer.bind(group, LOOPBACK, 1 << 20, m -> never, null);
    try (FrameClient client = FrameClient.connect(group, server.address(), 1 << 20, Duration.ofSeconds(5), null)) {
      CompletableFuture<Message> pending = client.call(new Ack());
      server.close();
      RemoteException e = remoteFailure(pending);
      assertEquals(ErrorCode.UNAVAILABLE, e.code());
    }
  }

  @Test
  void connectGivesUpWithAClearError() {
    RemoteException e = assertThrows(RemoteException.class, () -> FrameClient.connect(group,
        new InetSocketAddress("127.0.0.1", 1), 1 << 20, Duration.ofMillis(200), null));
    assertTrue(e.getMessage().contains("cannot connect to worker at 127.0.0.1:1"), e.getMessage());
  }

  private static ErrorReply readReply(InputStream in, long expectedId) throws IOException {
    DataInputStream data = new DataInputStream(in);
    byte[] lengthBytes = data.readNBytes(4);
    int length = ByteBuffer.wrap(lengthBytes).order(ByteOrder.LITTLE_ENDIAN).getInt();
    byte[] rest = data.readNBytes(length);
    ByteBuf buf = Unpooled.wrappedBuffer(rest);
    byte type = buf.readByte();
    assertEquals(expectedId, buf.readLongLE());
    return (ErrorReply) MessageCodec.decode(type, buf);
  }

  static RemoteException remoteFailure(CompletableFuture<?> future) {
    CompletionException e = assertThrows(CompletionException.class, future::join);
    return assertInstanceOf(RemoteException.class, e.getCause());
  }
}

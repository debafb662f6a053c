package dev.moe.runtime.parallel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moe.runtime.Fixtures;
import dev.moe.runtime.model.Checkpoint;
import dev.moe.runtime.parallel.Message.Dispatch;
import dev.moe.runtime.parallel.Message.FetchSlot;
import dev.moe.runtime.parallel.Message.ForcedRouting;
import dev.moe.runtime.parallel.Message.Release;
import dev.moe.runtime.parallel.Message.Rows;
import dev.moe.runtime.parallel.Message.Stage;
import dev.moe.runtime.parallel.Message.Step;
import dev.moe.runtime.parallel.Message.StepResult;
import dev.moe.runtime.rebalance.Placements;
import dev.moe.runtime.tensor.DType;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import java.io.DataInputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Every kind of bad request a worker can get over the transport gets a clear error reply, and the
 * worker keeps serving. Qwen2-MoE's fixture: layer 0 dense, layer 1 MoE, hidden 64, 8 experts.
 */
class BadRequestTest {

  static Checkpoint ckpt;
  static LocalGroup local;
  static EventLoopGroup loop;
  static FrameClient client;
  static int hidden;

  @BeforeAll
  static void start() {
    ckpt = Checkpoint.open(Fixtures.dir("qwen2_moe"));
    CheckpointModel model = new CheckpointModel(ckpt, DType.F32);
    hidden = model.hidden();
    local = LocalGroup.start(2, model, Placements.roundRobin(2, 8, 2), WorkerOptions.defaults().withLimits(16, 64));
    loop = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    client = FrameClient.connect(loop, local.addresses().get(0), 1 << 24, Duration.ofSeconds(5), null);
  }

  @AfterAll
  static void stop() {
    client.close();
    loop.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    local.close();
    ckpt.close();
  }

  private static RemoteException refused(Message request, ErrorCode code, String expected) {
    RemoteException e = FrameTransportTest.remoteFailure(client.call(request));
    assertEquals(code, e.code(), e.getMessage());
    assertTrue(e.getMessage().contains(expected), "'" + e.getMessage() + "' should say '" + expected + "'");
    return e;
  }

  private static Step step(int layer, int tokens, int stepHidden) {
    return new Step(1, 1, new int[] {layer}, tokens, stepHidden, 0, new float[tokens * stepHidden], null);
  }

  @Test
  void stepsThatCannotRun() {
    refused(step(1, 2, hidden + 1), ErrorCode.BAD_REQUEST, "hidden size 65, the model's is 64");
    refused(step(0, 2, hidden), ErrorCode.UNKNOWN_LAYER, "layer 0 of this qwen2_moe checkpoint is a dense MLP layer");
    refused(step(9, 2, hidden), ErrorCode.UNKNOWN_LAYER, "layer 9 is out of range");
    refused(step(1, 17, hidden), ErrorCode.OVERSIZE, "17 tokens, over its limit of 16");
    refused(new Step(1, 1, new int[] {1}, 2, hidden, 0, new float[3], null), ErrorCode.BAD_REQUEST,
        "announces 2 tokens of 64 but carries 3 values");
    refused(new Step(1, 7, new int[] {1}, 2, hidden, 0, new float[2 * hidden], null), ErrorCode.UNKNOWN_VERSION,
        "placement version 7 is not served by this worker");
    refused(new Step(1, 1, new int[] {1}, 1, hidden, 0, new float[hidden],
        new ForcedRouting(4, new int[][] {{0, 1, 2, 99}}, new float[][] {{1, 1, 1, 1}})), ErrorCode.BAD_REQUEST,
        "names expert 99, the model has 8");
    refused(new Step(1, 1, new int[] {1}, 1, hidden, 0, new float[hidden],
        new ForcedRouting(2, new int[][] {{0, 1}}, new float[][] {{1, 1}})), ErrorCode.BAD_REQUEST,
        "forced routing has 2 choices per token, the model 4");
  }

  @Test
  void dispatchesThatCannotRun() {
    refused(new Dispatch(1, 1, 1, hidden, new int[] {0}, new int[] {0, 1}, new float[hidden - 1]),
        ErrorCode.BAD_REQUEST, "announces 1 rows of 64 but carries 63 values");
    refused(new Dispatch(1, 1, 1, 32, new int[] {0}, new int[] {0, 1}, new float[32]), ErrorCode.BAD_REQUEST,
        "hidden size 32");
    refused(new Dispatch(1, 0, 1, hidden, new int[] {0}, new int[] {0, 1}, new float[hidden]),
        ErrorCode.UNKNOWN_LAYER, "dense MLP layer");
    refused(new Dispatch(1, 1, 5, hidden, new int[] {0}, new int[] {0, 1}, new float[hidden]),
        ErrorCode.UNKNOWN_VERSION, "placement version 5");
    refused(new Dispatch(1, 1, 1, hidden, new int[] {4}, new int[] {0, 1}, new float[hidden]), ErrorCode.BAD_REQUEST,
        "names slot 4; worker 0 has slots 0..3");
    refused(new Dispatch(1, 1, 1, hidden, new int[] {0, 1}, new int[] {0, 2, 1}, new float[hidden]),
        ErrorCode.BAD_REQUEST, "offsets decrease");
    refused(new Dispatch(1, 1, 1, hidden, new int[] {0}, new int[] {0, 65}, new float[65 * hidden]),
        ErrorCode.OVERSIZE, "65 rows is over worker 0's limit of 64");
    refused(new FetchSlot(1, 1, 1), ErrorCode.BAD_REQUEST, "holds no slot of expert 1");
  }

  @Test
  void placementRequestsThatCannotBeServed() {
    refused(new Stage(2, 1 << 20, "{\"physical_to_logical_map\": [[0]]}".getBytes(StandardCharsets.UTF_8)),
        ErrorCode.REFUSED, "placement version 2: physical_to_logical_map row 0 has no slot for expert 1");
    String threeGpus = "{\"physical_to_logical_map\": [[0,1,2,3,4,5,6,7,0],[0,1,2,3,4,5,6,7,0]], \"slots_per_gpu\": 3}";
    refused(new Stage(3, 1 << 20, threeGpus.getBytes(StandardCharsets.UTF_8)), ErrorCode.REFUSED,
        "the group has 2 workers");
    String sameAsServed = "{\"physical_to_logical_map\": [[0,2,4,6,1,3,5,7],[0,2,4,6,1,3,5,7]], \"slots_per_gpu\": 4}";
    refused(new Stage(1, 1 << 20, sameAsServed.getBytes(StandardCharsets.UTF_8)), ErrorCode.BAD_REQUEST,
        "placement version 1 is not newer than version 1");
    refused(new Release(1), ErrorCode.BAD_REQUEST, "is the active one and no newer version is staged");
    refused(new Release(42), ErrorCode.UNKNOWN_VERSION, "not held");
  }

  @Test
  void garbageOnTheWireGetsAMalformedReply() throws Exception {
    try (Socket socket = new Socket("127.0.0.1", local.addresses().get(0).getPort())) {
      // A step whose layer list announces a million layers but holds none.
      ByteBuffer frame = ByteBuffer.allocate(4 + 9 + 20).order(ByteOrder.LITTLE_ENDIAN);
      frame.putInt(9 + 20).put(MessageCodec.STEP).putLong(77).putLong(1).putLong(1).putInt(1_000_000);
      OutputStream out = socket.getOutputStream();
      out.write(frame.array());
      out.flush();
      DataInputStream in = new DataInputStream(socket.getInputStream());
      int length = Integer.reverseBytes(in.readInt());
      ByteBuffer reply = ByteBuffer.wrap(in.readNBytes(length)).order(ByteOrder.LITTLE_ENDIAN);
      assertEquals(MessageCodec.ERROR, reply.get());
      assertEquals(77, reply.getLong());
      assertEquals(ErrorCode.MALFORMED.ordinal(), reply.get());
      byte[] message = new byte[reply.getInt()];
      reply.get(message);
      assertTrue(new String(message, StandardCharsets.UTF_8).contains("layers announces 1000000 elements"));
    }
  }

  /** After all of the above, in any order, the group still computes. */
  @Test
  void workersStillServe() {
    StepResult r = client.call(step(1, 2, hidden), StepResult.class).join();
    assertEquals(2 * hidden, r.y().length);
    Rows rows = client.call(new Dispatch(1, 1, 1, hidden, new int[] {0}, new int[] {0, 1}, new float[hidden]),
        Rows.class).join();
    assertEquals(hidden, rows.y().length);
  }
}

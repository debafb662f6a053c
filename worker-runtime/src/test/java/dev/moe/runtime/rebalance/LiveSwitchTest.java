package dev.moe.runtime.rebalance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moe.placement.Placement;
import dev.moe.runtime.Fixtures;
import dev.moe.runtime.layer.MoeBlock;
import dev.moe.runtime.model.Checkpoint;
import dev.moe.runtime.nativelib.Backend;
import dev.moe.runtime.nativelib.BackendChoice;
import dev.moe.runtime.parallel.CheckpointModel;
import dev.moe.runtime.parallel.LocalGroup;
import dev.moe.runtime.parallel.Message;
import dev.moe.runtime.parallel.Message.Dispatch;
import dev.moe.runtime.parallel.Message.FetchSlot;
import dev.moe.runtime.parallel.Message.Rows;
import dev.moe.runtime.parallel.Message.SlotCopy;
import dev.moe.runtime.parallel.NettyTransport;
import dev.moe.runtime.parallel.Transport;
import dev.moe.runtime.parallel.WorkerGroup;
import dev.moe.runtime.parallel.WorkerNode;
import dev.moe.runtime.parallel.WorkerOptions;
import dev.moe.runtime.tensor.DType;
import dev.moe.runtime.tensor.SafetensorsFile;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Live placement changes under load on Mixtral's fixture (8 experts, MoE layers 0 and 1), three
 * in-process workers over TCP with three fixed slots each.
 */
class LiveSwitchTest {

  static final int WORKERS = 3;

  static Checkpoint ckpt;
  static CheckpointModel model;
  static float[] x;
  static int tokens;
  static float[] want;

  @BeforeAll
  static void reference() {
    ckpt = Checkpoint.open(Fixtures.dir("mixtral"));
    model = new CheckpointModel(ckpt, DType.F32);
    try (SafetensorsFile expected = SafetensorsFile.open(Fixtures.expected("mixtral"));
        Backend backend = Backend.open(BackendChoice.CPU, 1);
        MoeBlock first = MoeBlock.load(backend, ckpt, 0, DType.F32, 1024);
        MoeBlock second = MoeBlock.load(backend, ckpt, 1, DType.F32, 1024)) {
      x = expected.tensor("input").toFloats();
      tokens = (int) expected.tensor("input").dim(0);
      want = second.forward(first.forward(x, tokens).output(), tokens).output();
    }
  }

  @AfterAll
  static void close() {
    ckpt.close();
  }

  /** A placement with the same map on both layers; {@code shares} by slot. */
  static Placement placement(int[] map, double[] shares) {
    return new Placement(map.length / WORKERS, new int[][] {map, map}, new double[][] {shares, shares}, null);
  }

  static final Placement FIRST = Placements.roundRobin(2, 8, WORKERS);
  /** Every worker gets experts it lacks; expert 0 is replicated on workers 1 and 2. */
  static final Placement SECOND = placement(new int[] {7, 1, 4, 2, 5, 0, 3, 6, 0},
      new double[] {1, 1, 1, 1, 1, .5, 1, 1, .5});
  /** Moved again; expert 3 replicated 70/30. */
  static final Placement THIRD = placement(new int[] {0, 1, 2, 3, 4, 5, 6, 7, 3},
      new double[] {1, 1, 1, .7, 1, 1, 1, 1, .3});

  record Sample(long start, long end, long version, boolean ok, String error) {
    long nanos() {
      return end - start;
    }
  }

  private static boolean matches(float[] y) {
    return Fixtures.maxAbsDiff(want, y) <= 1e-5 * Fixtures.maxAbs(want);
  }

  @Test
  void placementChangesUnderContinuousLoadWithoutLosingAStep() throws Exception {
    long slotBytes = 3L * model.hidden() * model.inter() * 4;
    try (LocalGroup local = LocalGroup.start(WORKERS, model, FIRST, WorkerOptions.defaults())) {
      WorkerGroup group = local.group();
      List<Sample> samples = Collections.synchronizedList(new ArrayList<>());
      AtomicBoolean running = new AtomicBoolean(true);
      List<Thread> load = new ArrayList<>();
      // Two clients, so that steps overlap and the switch happens with steps in flight.
      for (int c = 0; c < 2; c++) {
        Thread t = new Thread(() -> {
          while (running.get()) {
            long start = System.nanoTime();
            try {
              WorkerGroup.StepOutput out = group.step(x, tokens, new int[] {0, 1}).join();
              samples.add(new Sample(start, System.nanoTime(), out.version(), matches(out.y()), null));
            } catch (CompletionException e) {
              samples.add(new Sample(start, System.nanoTime(), -1, false, e.getCause().toString()));
            }
          }
        });
        t.start();
        load.add(t);
      }
      Thread.sleep(1000);
      List<long[]> windows = new ArrayList<>();
      // Two changes, then four more to sample the stall of switching more often.
      for (Placement next : List.of(SECOND, THIRD, SECOND, THIRD, SECOND, THIRD)) {
        long start = System.nanoTime();
        // One slot per step: the stall per step is one slot's copy at most.
        long version = group.switchPlacement(next, slotBytes).join();
        windows.add(new long[] {start, System.nanoTime()});
        assertEquals(version, group.activeVersion());
        Thread.sleep(300);
      }
      running.set(false);
      for (Thread t : load) {
        t.join();
      }

      List<Sample> all = new ArrayList<>(samples);
      List<String> failures = all.stream().filter(s -> !s.ok()).map(s -> s.version() + ": " + s.error()).toList();
      assertEquals(List.of(), failures, "failed or wrong steps");
      assertTrue(all.size() > 50, "steps issued: " + all.size());
      for (long v = 1; v <= 7; v++) {
        long version = v;
        assertTrue(all.stream().anyMatch(s -> s.version() == version), "no step ran on version " + v);
      }
      // Old versions are freed once their last step is done.
      awaitHeld(group, new long[] {7});
      for (WorkerNode node : local.nodes()) {
        String metrics = new String(node.metrics().scrape());
        assertTrue(metrics.contains("moe_worker_placement_switches_total 6.0"), metrics);
        assertTrue(metrics.contains("moe_worker_placement_version 7.0"), metrics);
      }
      reportStall(all, windows);
    }
  }

  /** Prints the step-time stall of switching: p99 of steps overlapping a switch vs the normal median. */
  private static void reportStall(List<Sample> all, List<long[]> windows) {
    List<Long> normal = new ArrayList<>();
    List<Long> during = new ArrayList<>();
    for (Sample s : all) {
      boolean overlaps = windows.stream().anyMatch(w -> s.start() < w[1] && s.end() > w[0]);
      (overlaps ? during : normal).add(s.nanos());
    }
    double median = percentile(normal, 50) / 1e6;
    double p99Normal = percentile(normal, 99) / 1e6;
    double medianSwitch = percentile(during, 50) / 1e6;
    double p99Switch = percentile(during, 99) / 1e6;
    for (long[] w : windows) {
      List<Long> in = all.stream().filter(s -> s.start() < w[1] && s.end() > w[0]).map(Sample::nanos).toList();
      System.out.printf("  switch of %.1f ms: %d steps, median %.2f ms, max %.2f ms%n", (w[1] - w[0]) / 1e6, in.size(),
          percentile(in, 50) / 1e6, percentile(in, 100) / 1e6);
    }
    double switchMs = windows.stream().mapToDouble(w -> (w[1] - w[0]) / 1e6).average().orElse(0);
    System.out.printf("live switch: %d steps, %d during %d switches (%.0f ms each on average); normal steps median"
            + " %.2f ms, p99 %.2f ms; steps during a switch median %.2f ms, p99 %.2f ms = %.2fx the normal median%n",
        all.size(), during.size(), windows.size(), switchMs, median, p99Normal, medianSwitch, p99Switch,
        p99Switch / median);
  }

  static double percentile(List<Long> values, double p) {
    if (values.isEmpty()) {
      return Double.NaN;
    }
    long[] sorted = values.stream().mapToLong(Long::longValue).sorted().toArray();
    return sorted[(int) Math.min(sorted.length - 1, Math.ceil(p / 100 * sorted.length) - 1)];
  }

  private static void awaitHeld(WorkerGroup group, long[] held) throws InterruptedException {
    long deadline = System.nanoTime() + 5_000_000_000L;
    while (true) {
      boolean all = group.status().stream().allMatch(s -> Arrays.equals(s.staged(), held));
      if (all) {
        return;
      }
      if (System.nanoTime() > deadline) {
        throw new AssertionError("workers still hold " + group.status().stream()
            .map(st -> st.rank() + ": " + Arrays.toString(st.staged())).toList());
      }
      Thread.sleep(20);
    }
  }

  /** Passes everything through, but flips one byte of the first slot a peer sends. */
  static final class CorruptingTransport implements Transport {
    private final Transport inner;
    private final AtomicInteger corrupted = new AtomicInteger();

    CorruptingTransport(Transport inner) {
      this.inner = inner;
    }

    @Override
    public int rank() {
      return inner.rank();
    }

    @Override
    public int size() {
      return inner.size();
    }

    @Override
    public void connect(Duration timeout) {
      inner.connect(timeout);
    }

    @Override
    public boolean connected(int peer) {
      return inner.connected(peer);
    }

    @Override
    public CompletableFuture<Rows> dispatch(int peer, Dispatch dispatch) {
      return inner.dispatch(peer, dispatch);
    }

    @Override
    public CompletableFuture<SlotCopy> fetchSlot(int peer, FetchSlot fetch) {
      return inner.fetchSlot(peer, fetch).thenApply(c -> {
        if (corrupted.getAndIncrement() > 0) {
          return c;
        }
        byte[] bytes = c.bytes().clone();
        bytes[bytes.length / 2] ^= 0x10;
        return new SlotCopy(bytes, c.checksum());
      });
    }

    @Override
    public <T extends Message> CompletableFuture<T> control(int peer, Message message, Class<T> reply) {
      return inner.control(peer, message, reply);
    }

    @Override
    public void close() {
      inner.close();
    }
  }

  @Test
  void checksumMismatchRefusesTheVersionAndServingGoesOn() throws InterruptedException {
    List<WorkerNode> nodes = new ArrayList<>();
    List<NettyTransport> transports = new ArrayList<>();
    try {
      for (int r = 0; r < WORKERS; r++) {
        WorkerNode node = new WorkerNode(r, WORKERS, model, FIRST, 1, WorkerOptions.defaults());
        nodes.add(node);
        transports.add(NettyTransport.listen(r, WORKERS, new InetSocketAddress("127.0.0.1", 0), node,
            NettyTransport.DEFAULT_MAX_FRAME_BYTES, null));
      }
      List<InetSocketAddress> addresses = transports.stream().map(NettyTransport::address).toList();
      for (int r = 0; r < WORKERS; r++) {
        transports.get(r).peers(addresses);
        transports.get(r).connect(Duration.ofSeconds(10));
        nodes.get(r).attach(r == 1 ? new CorruptingTransport(transports.get(r)) : transports.get(r));
      }
      try (WorkerGroup group = WorkerGroup.connect(addresses, model.hidden(), Duration.ofSeconds(10))) {
        CompletionException e = assertThrows(CompletionException.class,
            () -> group.switchPlacement(SECOND, 1 << 20).join());
        PlacementRefusedException refused = assertInstanceOf(PlacementRefusedException.class, e.getCause());
        assertTrue(refused.getMessage().contains("placement version 2 refused")
            && refused.getMessage().contains("checksum"), refused.getMessage());
        assertEquals(1, group.activeVersion());
        // Serving goes on, on version 1, with the right output.
        WorkerGroup.StepOutput out = group.step(x, tokens, new int[] {0, 1}).join();
        assertEquals(1, out.version());
        assertTrue(matches(out.y()));
        assertTrue(nodes.get(1).placementStatusJson().contains("\"2\": \"placement version 2 refused"),
            nodes.get(1).placementStatusJson());
        assertTrue(new String(nodes.get(1).metrics().scrape()).contains("moe_worker_placement_refused_total 1.0"));
        // Every worker dropped version 2, so the next version can be staged and served.
        long next = group.switchPlacement(SECOND, 1 << 20).join();
        assertEquals(3, next);
        WorkerGroup.StepOutput after = group.step(x, tokens, new int[] {0, 1}).join();
        assertEquals(3, after.version());
        assertTrue(matches(after.y()));
        awaitHeld(group, new long[] {3});
      }
    } finally {
      nodes.forEach(WorkerNode::close);
      transports.forEach(NettyTransport::close);
    }
  }
}

package dev.moe.runtime.server;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moe.placement.Placement;
import dev.moe.placement.PlacementJson;
import dev.moe.runtime.EngineTesting;
import dev.moe.runtime.Fixtures;
import dev.moe.runtime.ModelExpectations;
import dev.moe.runtime.model.Checkpoint;
import dev.moe.runtime.parallel.CheckpointModel;
import dev.moe.runtime.parallel.WorkerOptions;
import dev.moe.runtime.rebalance.Placements;
import dev.moe.runtime.sampling.SamplingParams;
import dev.moe.runtime.scheduler.CollectingSink;
import dev.moe.runtime.scheduler.Engine;
import dev.moe.runtime.scheduler.EngineRejectedException;
import dev.moe.runtime.scheduler.FinishReason;
import dev.moe.runtime.scheduler.GenerationRequest;
import dev.moe.runtime.tensor.DType;
import dev.moe.runtime.tls.ModelTls;
import dev.moe.runtime.tls.TestCertificates;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A worker that restarts in a running group rejoins on the group's active placement (asked of a
 * peer), not the one it was started with, and serving resumes with no new revision; a worker of a
 * group being resized does not. A worker lost for good takes only its own requests: the survivors
 * serve on once they hold a plan that leaves it out, and never wait longer than their grace.
 */
class RejoinTest {

  private static final String TOKEN = "rejoin-test-token";
  private static final String FIXTURE = "deepseek_v3";
  /** The model's identity, as every worker of a deployed model has it: the rejoin query goes over mutual TLS. */
  private static final ModelTls TLS = model();
  private final HttpClient http = HttpClient.newBuilder().sslContext(TLS.sslContext()).build();

  private static ModelTls model() {
    try {
      return TestCertificates.authority("rejoin").issue(Files.createTempDirectory("rejoin-tls"));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static List<InetSocketAddress> freeLoopbackPorts(int n) throws IOException {
    List<InetSocketAddress> out = new ArrayList<>();
    List<ServerSocket> held = new ArrayList<>();
    try {
      for (int i = 0; i < n; i++) {
        ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress());
        held.add(s);
        out.add(new InetSocketAddress("127.0.0.1", s.getLocalPort()));
      }
    } finally {
      for (ServerSocket s : held) {
        s.close();
      }
    }
    return out;
  }

  private static WorkerProcess start(int rank, List<InetSocketAddress> peers, Checkpoint ckpt, Placement initial) {
    return start(rank, peers, ckpt, initial, EngineTesting.options());
  }

  private static WorkerProcess start(int rank, List<InetSocketAddress> peers, Checkpoint ckpt, Placement initial,
      Engine.Options engine) {
    WorkerProcess.Config config = new WorkerProcess.Config(rank, peers, peers.get(rank),
        new InetSocketAddress("127.0.0.1", 0), new InetSocketAddress("127.0.0.1", 0), initial, 0,
        WorkerOptions.defaults(), BearerToken.of(TOKEN), Duration.ofSeconds(30), 1 << 20, TLS);
    return WorkerProcess.start(config, new CheckpointModel(ckpt, DType.F32),
        new WorkerProcess.Serving(ckpt, engine));
  }

  /** A group on {@code peers}, all started at once: each start waits for its peers to listen. */
  private static WorkerProcess[] startGroup(List<InetSocketAddress> peers, Checkpoint ckpt, Placement initial)
      throws Exception {
    return startGroup(peers, ckpt, initial, EngineTesting.options());
  }

  private static WorkerProcess[] startGroup(List<InetSocketAddress> peers, Checkpoint ckpt, Placement initial,
      Engine.Options engine) throws Exception {
    List<CompletableFuture<WorkerProcess>> starting = new ArrayList<>();
    // One thread each: the common pool may have one.
    ExecutorService starters = Executors.newFixedThreadPool(peers.size());
    for (int r = 0; r < peers.size(); r++) {
      int rank = r;
      starting.add(CompletableFuture.supplyAsync(() -> start(rank, peers, ckpt, initial, engine), starters));
    }
    starters.shutdown();
    WorkerProcess[] workers = new WorkerProcess[peers.size()];
    for (int r = 0; r < peers.size(); r++) {
      workers[r] = starting.get(r).get(120, TimeUnit.SECONDS);
    }
    return workers;
  }

  private String placementStatus(WorkerProcess p) throws Exception {
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("https://127.0.0.1:" + p.controlAddress().getPort()
        + "/placement")).header("Authorization", "Bearer " + TOKEN).build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(200, r.statusCode(), r.body());
    return r.body();
  }

  private void post(WorkerProcess p, long version, Placement placement) throws Exception {
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("https://127.0.0.1:" + p.controlAddress().getPort()
        + "/placement?version=" + version)).header("Authorization", "Bearer " + TOKEN)
        .POST(HttpRequest.BodyPublishers.ofString(PlacementJson.toJson(placement))).build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(202, r.statusCode(), r.body());
  }

  private void awaitActive(WorkerProcess p, long version) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (!placementStatus(p).contains("\"active\": " + version)) {
      assertTrue(System.nanoTime() < deadline, "still " + placementStatus(p));
      Thread.sleep(20);
    }
  }

  private static int[] generate(WorkerProcess p, int[] prompt) throws Exception {
    CollectingSink c = new CollectingSink();
    p.engine().submit(new GenerationRequest("r", prompt, SamplingParams.greedy(32)), c);
    return EngineTesting.await(c);
  }

  @Test
  void aRestartedWorkerRejoinsOnTheActivePlacement() throws Exception {
    ModelExpectations want = ModelExpectations.of(FIXTURE);
    List<InetSocketAddress> peers = freeLoopbackPorts(3);
    try (Checkpoint ckpt = Checkpoint.open(Fixtures.dir(FIXTURE))) {
      var config = ckpt.modelConfig();
      Placement first = Placements.roundRobin(config.numLayers(), config.moe().numExperts(), 3);
      WorkerProcess[] workers = startGroup(peers, ckpt, first);
      try {
        // Revision 1, posted to every worker as the operator does, is adopted by the group.
        Placement second = Placements.swapped(first, 3, first.slotsPerGpu());
        for (WorkerProcess w : workers) {
          post(w, 1, second);
        }
        for (WorkerProcess w : workers) {
          awaitActive(w, 1);
        }
        assertArrayEquals(want.generated(), generate(workers[2], want.prompt()));

        // Worker 2 goes away: the others refuse new requests until the group is whole again.
        workers[2].close();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (workers[0].engine().notReadyReason() == null && System.nanoTime() < deadline) {
          Thread.sleep(10);
        }
        EngineRejectedException refused = assertThrows(EngineRejectedException.class,
            () -> generate(workers[0], want.prompt()));
        assertEquals(EngineRejectedException.Kind.UNAVAILABLE, refused.kind());

        // It restarts with the placement it was first given (version 0) and rejoins on version 1.
        workers[2] = start(2, peers, ckpt, first);
        assertTrue(placementStatus(workers[2]).contains("\"active\": 1"), placementStatus(workers[2]));
        deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (workers[0].engine().notReadyReason() != null && System.nanoTime() < deadline) {
          Thread.sleep(10);
        }
        assertArrayEquals(want.generated(), generate(workers[0], want.prompt()), "served again by the group");
        assertArrayEquals(want.generated2(), generate(workers[2], want.prompt2()), "served by the restarted worker");
        for (WorkerProcess w : workers) {
          String status = placementStatus(w);
          assertTrue(status.contains("\"active\": 1") && !status.contains("2"), "no new revision: " + status);
        }
      } finally {
        for (WorkerProcess w : workers) {
          if (w != null) {
            w.close();
          }
        }
      }
    }
  }

  /**
   * A group resized from 2 to 3 workers restarts one worker at a time (a StatefulSet's rolling
   * update, newest ordinal first): the new worker finds the old group still serving a placement
   * for 2 GPUs, and starts the group of 3 on its own instead of failing on it.
   */
  @Test
  void aWorkerOfALargerGroupStartsItRatherThanRejoiningTheOldOne() throws Exception {
    List<InetSocketAddress> peers = freeLoopbackPorts(3);
    try (Checkpoint ckpt = Checkpoint.open(Fixtures.dir(FIXTURE))) {
      var config = ckpt.modelConfig();
      Placement forTwo = Placements.roundRobin(config.numLayers(), config.moe().numExperts(), 2);
      WorkerProcess[] old = startGroup(peers.subList(0, 2), ckpt, forTwo);
      WorkerProcess added = null;
      try {
        for (WorkerProcess w : old) {
          post(w, 1, Placements.swapped(forTwo, 2, forTwo.slotsPerGpu()));
        }
        for (WorkerProcess w : old) {
          awaitActive(w, 1);
        }
        added = start(2, peers, ckpt, Placements.roundRobin(config.numLayers(), config.moe().numExperts(), 3));
        assertTrue(placementStatus(added).contains("\"active\": 0"), "its own placement for 3 GPUs, not the old"
            + " group's version 1: " + placementStatus(added));
      } finally {
        for (WorkerProcess w : old) {
          w.close();
        }
        if (added != null) {
          added.close();
        }
      }
    }
  }

  /** How long the survivors' requests wait for a lost peer in {@link #aLostWorkerTakesOnlyItsOwnRequests}. */
  private static final Duration GRACE = Duration.ofSeconds(6);

  /**
   * Worker 2 of 3 is lost with requests in flight on every worker. Its own requests go with it; the
   * survivors' wait (not ready, new requests refused as UNAVAILABLE, the API's 503) until they stage
   * a survivors' plan that gives worker 2 no tokens, then resume where they were and finish with
   * the very tokens of an unbroken group, and new requests are served; worker 2, back, serves on that
   * plan. Then worker 1 is lost too, which that plan needs: worker 0's request ends UNAVAILABLE
   * (retryable) after the grace, not never.
   */
  @Test
  void aLostWorkerTakesOnlyItsOwnRequests() throws Exception {
    List<InetSocketAddress> peers = freeLoopbackPorts(3);
    try (Checkpoint ckpt = Checkpoint.open(Fixtures.dir(FIXTURE))) {
      ModelExpectations want = ModelExpectations.of(FIXTURE);
      var config = ckpt.modelConfig();
      int experts = config.moe().numExperts();
      WorkerProcess[] workers = startGroup(peers, ckpt, twoCopies(config.numLayers(), experts, 2, true),
          EngineTesting.options(GRACE));
      try {
        SamplingParams longRun = new SamplingParams(0f, 1f, 0, null, 200, null, true, null, 0f, 0f);
        int[] unbroken = run(workers[0], want.prompt(), longRun).await(120, TimeUnit.SECONDS);
        CollectingSink[] inFlight = new CollectingSink[3];
        for (int w = 0; w < 3; w++) {
          inFlight[w] = run(workers[w], want.prompt(), longRun);
        }
        awaitTokens(inFlight, 3);
        workers[2].close();
        workers[2] = null;

        for (int w = 0; w < 2; w++) {
          WorkerProcess survivor = workers[w];
          awaitTrue(() -> survivor.engine().notReadyReason() != null, "worker " + w + " to see worker 2 lost");
          assertTrue(survivor.engine().notReadyReason().contains("[2]"), survivor.engine().notReadyReason());
          EngineRejectedException refused = assertThrows(EngineRejectedException.class,
              () -> generate(survivor, want.prompt()));
          assertEquals(EngineRejectedException.Kind.UNAVAILABLE, refused.kind());
        }
        int[] paused = {inFlight[0].count(), inFlight[1].count()};
        Thread.sleep(300);
        assertEquals(paused[0], inFlight[0].count(), "worker 0 steps without the experts of worker 2");
        assertFalse(inFlight[0].finish().isDone() || inFlight[1].finish().isDone());

        // The operator's survivors' plan: worker 2's slots keep their experts with share 0.
        Placement survivors = twoCopies(config.numLayers(), experts, 2, false);
        for (int w = 0; w < 2; w++) {
          post(workers[w], 1, survivors);
        }
        for (int w = 0; w < 2; w++) {
          assertArrayEquals(unbroken, inFlight[w].await(120, TimeUnit.SECONDS), "worker " + w + "'s request resumed");
          assertEquals(FinishReason.LENGTH, inFlight[w].finish().get());
          assertArrayEquals(want.generated(), generate(workers[w], want.prompt()), "a new request on worker " + w);
        }
        // Worker 2 back: it joins on the survivors' plan, where it holds no share, and serves its own requests.
        workers[2] = start(2, peers, ckpt, twoCopies(config.numLayers(), experts, 2, true), EngineTesting.options(GRACE));
        assertTrue(placementStatus(workers[2]).contains("\"active\": 1"), placementStatus(workers[2]));
        assertArrayEquals(want.generated(), generate(workers[2], want.prompt()), "a new request on the returned worker");

        // Worker 1 holds experts the plan needs: worker 0's request waits for it, then ends retryably.
        CollectingSink stranded = run(workers[0], want.prompt(), longRun);
        awaitTokens(new CollectingSink[] {stranded}, 1);
        long lost = System.nanoTime();
        workers[1].close();
        workers[1] = null;
        assertEquals(FinishReason.UNAVAILABLE, stranded.finish().get(GRACE.toSeconds() + 30, TimeUnit.SECONDS));
        Duration waited = Duration.ofNanos(System.nanoTime() - lost);
        assertTrue(waited.compareTo(GRACE) >= 0, "ended after " + waited + ", before the grace");
        assertTrue(stranded.message().contains("[1]"), stranded.message());
      } finally {
        for (WorkerProcess w : workers) {
          if (w != null) {
            w.close();
          }
        }
      }
    }
  }

  /**
   * Worker 0, which runs the group's step clock, is lost with requests in flight: the survivors
   * wait for a plan without it, then worker 1 takes the clock over and their requests finish with
   * the very tokens of an unbroken group. Worker 0, back, rejoins on that plan and takes the clock
   * back; worker 1 stops stepping the group (one clock), and both serve.
   */
  @Test
  void theStepClockMovesOnWhenWorkerZeroIsLostAndBackWhenItReturns() throws Exception {
    List<InetSocketAddress> peers = freeLoopbackPorts(3);
    try (Checkpoint ckpt = Checkpoint.open(Fixtures.dir(FIXTURE))) {
      ModelExpectations want = ModelExpectations.of(FIXTURE);
      var config = ckpt.modelConfig();
      int experts = config.moe().numExperts();
      WorkerProcess[] workers = startGroup(peers, ckpt, twoCopies(config.numLayers(), experts, 0, true),
          EngineTesting.options(GRACE));
      try {
        WorkerProcess zero = workers[0];
        awaitTrue(() -> zero.engine().runsStepClock(), "worker 0 to run the clock");
        assertFalse(workers[1].engine().runsStepClock() || workers[2].engine().runsStepClock());
        SamplingParams longRun = new SamplingParams(0f, 1f, 0, null, 200, null, true, null, 0f, 0f);
        int[] unbroken = run(workers[1], want.prompt(), longRun).await(120, TimeUnit.SECONDS);
        CollectingSink[] inFlight = new CollectingSink[3];
        for (int w = 0; w < 3; w++) {
          inFlight[w] = run(workers[w], want.prompt(), longRun);
        }
        awaitTokens(inFlight, 3);
        workers[0].close();
        workers[0] = null;

        for (int w = 1; w < 3; w++) {
          WorkerProcess survivor = workers[w];
          awaitTrue(() -> survivor.engine().notReadyReason() != null, "worker " + w + " to see worker 0 lost");
          assertTrue(survivor.engine().notReadyReason().contains("[0]"), survivor.engine().notReadyReason());
        }
        Placement survivors = twoCopies(config.numLayers(), experts, 0, false);
        for (int w = 1; w < 3; w++) {
          post(workers[w], 1, survivors);
        }
        for (int w = 1; w < 3; w++) {
          assertArrayEquals(unbroken, inFlight[w].await(120, TimeUnit.SECONDS), "worker " + w + "'s request resumed");
          assertArrayEquals(want.generated(), generate(workers[w], want.prompt()), "a new request on worker " + w);
        }
        assertTrue(workers[1].engine().runsStepClock(), "worker 1 keeps the clock");
        assertFalse(workers[2].engine().runsStepClock(), "one clock");

        workers[0] = start(0, peers, ckpt, twoCopies(config.numLayers(), experts, 0, true),
            EngineTesting.options(GRACE));
        assertTrue(placementStatus(workers[0]).contains("\"active\": 1"), placementStatus(workers[0]));
        WorkerProcess back = workers[0];
        WorkerProcess first = workers[1];
        awaitTrue(() -> back.engine().runsStepClock() && !first.engine().runsStepClock(), "worker 0 to take the"
            + " clock back");
        assertArrayEquals(want.generated(), generate(workers[0], want.prompt()), "a new request on worker 0");
        assertArrayEquals(want.generated2(), generate(workers[1], want.prompt2()), "a new request on worker 1");
        assertFalse(workers[1].engine().runsStepClock() || workers[2].engine().runsStepClock(), "one clock");
      } finally {
        for (WorkerProcess w : workers) {
          if (w != null) {
            w.close();
          }
        }
      }
    }
  }

  /**
   * 3 GPUs of {@code experts} slots' worth: every expert has a copy on one of the two GPUs other
   * than {@code spare} (half each) and half of them a second on {@code spare}, which takes half
   * their tokens with {@code withSpare}, none without (the survivors' plan of the same slots).
   */
  private static Placement twoCopies(int layers, int experts, int spare, boolean withSpare) {
    int perGpu = experts / 2;
    int[][] maps = new int[layers][3 * perGpu];
    double[][] shares = new double[layers][3 * perGpu];
    for (int l = 0; l < layers; l++) {
      for (int s = 0; s < 3 * perGpu; s++) {
        int gpu = s / perGpu;
        // The slot's place in a layout whose spare GPU is the last.
        int at = (gpu == spare ? 2 : gpu < spare ? gpu : gpu - 1) * perGpu + s % perGpu;
        maps[l][s] = at % experts;
        boolean shared = at % experts < perGpu;
        shares[l][s] = !shared ? 1 : withSpare ? 0.5 : at < experts ? 1 : 0;
      }
    }
    return new Placement(perGpu, maps, shares, null);
  }

  private static CollectingSink run(WorkerProcess p, int[] prompt, SamplingParams sampling) {
    CollectingSink c = new CollectingSink();
    p.engine().submit(new GenerationRequest("r", prompt, sampling), c);
    return c;
  }

  private static void awaitTokens(CollectingSink[] sinks, int tokens) throws InterruptedException {
    for (CollectingSink s : sinks) {
      awaitTrue(() -> s.count() >= tokens, tokens + " tokens of every request");
    }
  }

  private static void awaitTrue(java.util.function.BooleanSupplier done, String what) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (!done.getAsBoolean()) {
      assertTrue(System.nanoTime() < deadline, "no " + what + " within 30 s");
      Thread.sleep(5);
    }
  }
}

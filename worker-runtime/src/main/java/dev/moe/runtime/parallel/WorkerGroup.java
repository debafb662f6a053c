package dev.moe.runtime.parallel;

import dev.moe.placement.Placement;
import dev.moe.placement.PlacementJson;
import dev.moe.runtime.parallel.Message.Ack;
import dev.moe.runtime.parallel.Message.ForcedRouting;
import dev.moe.runtime.parallel.Message.Release;
import dev.moe.runtime.parallel.Message.Stage;
import dev.moe.runtime.parallel.Message.StatusRequest;
import dev.moe.runtime.parallel.Message.Step;
import dev.moe.runtime.parallel.Message.StepResult;
import dev.moe.runtime.parallel.Message.WorkerStatus;
import dev.moe.runtime.rebalance.PlacementRefusedException;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Logger;

/**
 * The coordinator of a worker group, as the serving engine's scheduler would be: it splits each
 * step's batch over the workers, gathers their outputs, and owns the placement version every step
 * runs on.
 *
 * <p>Placement switch, two phases: {@link #switchPlacement} has every worker stage the new version
 * (each moves the weights it lacks within a byte budget per step); only when all are ready do new
 * steps carry it. Steps already sent finish on the old version; once none is in flight, the
 * workers are told to free it. If any worker refuses the version, all drop it and serving goes on
 * on the old one.
 */
public final class WorkerGroup implements AutoCloseable {

  private static final Logger LOG = Logger.getLogger(WorkerGroup.class.getName());

  /**
   * One step's result, gathered from every worker: per worker, the rows it computed and the wall
   * and CPU time its expert kernels took (see {@link Message.Rows}); {@code nanos}, the step's
   * time as the coordinator saw it.
   */
  public record StepOutput(float[] y, long version, int k, int[][] ids, float[][] weights, long[] rowsPerWorker,
      long[] computeNanosPerWorker, long[] cpuNanosPerWorker, long nanos) {}

  private final EventLoopGroup group;
  private final List<FrameClient> workers;
  private final int hidden;
  private final AtomicLong nextStep = new AtomicLong();
  private final Map<Long, Integer> inFlight = new HashMap<>();
  private long active = 1;
  private long highest = 1;

  private WorkerGroup(EventLoopGroup group, List<FrameClient> workers, int hidden) {
    this.group = group;
    this.workers = workers;
    this.hidden = hidden;
  }

  /**
   * Connects to the workers (by rank); new steps carry the placement version they all serve. Plain
   * TCP: a coordinator drives workers of one process or machine (trace replay, tests), which run
   * without TLS; a deployed model's workers step themselves.
   */
  public static WorkerGroup connect(List<InetSocketAddress> addresses, int hidden, Duration timeout) {
    EventLoopGroup group = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
    List<FrameClient> clients = new ArrayList<>();
    try {
      for (InetSocketAddress a : addresses) {
        clients.add(FrameClient.connect(group, a, NettyTransport.DEFAULT_MAX_FRAME_BYTES, timeout, null));
      }
    } catch (RuntimeException e) {
      clients.forEach(FrameClient::close);
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
      throw e;
    }
    WorkerGroup connected = new WorkerGroup(group, clients, hidden);
    long[] served = connected.status().stream().mapToLong(WorkerStatus::activeVersion).distinct().toArray();
    if (served.length != 1) {
      connected.close();
      throw new IllegalStateException("the workers serve different placement versions " + Arrays.toString(served)
          + "; connect when they agree");
    }
    connected.active = served[0];
    connected.highest = served[0];
    return connected;
  }

  public synchronized long activeVersion() {
    return active;
  }

  /** {@link #step(float[], int, int[], int, int[][], float[][])} with the workers' routers. */
  public CompletableFuture<StepOutput> step(float[] x, int tokens, int[] layers) {
    return step(x, tokens, layers, 0, null, null);
  }

  /**
   * Runs {@code tokens} rows of {@code x} through {@code layers} in order on the active placement
   * version, the tokens split evenly over the workers in rank order.
   *
   * @param forcedIds null (routers decide), or per layer the experts of every (token, choice),
   *     {@code [tokens * k]}, to bypass the routers (trace replay)
   */
  public CompletableFuture<StepOutput> step(float[] x, int tokens, int[] layers, int k, int[][] forcedIds,
      float[][] forcedWeights) {
    if (x.length != (long) tokens * hidden) {
      throw new IllegalArgumentException("a step of " + tokens + " tokens of hidden " + hidden + " needs "
          + (long) tokens * hidden + " values, got " + x.length);
    }
    long version;
    synchronized (this) {
      version = active;
      inFlight.merge(version, 1, Integer::sum);
    }
    long step = nextStep.incrementAndGet();
    long start = System.nanoTime();
    int n = workers.size();
    int[] first = new int[n + 1];
    for (int r = 0; r < n; r++) {
      first[r + 1] = first[r] + tokens / n + (r < tokens % n ? 1 : 0);
    }
    List<CompletableFuture<StepResult>> parts = new ArrayList<>();
    for (int r = 0; r < n; r++) {
      int count = first[r + 1] - first[r];
      if (count == 0) {
        parts.add(null);
        continue;
      }
      float[] xs = new float[count * hidden];
      System.arraycopy(x, first[r] * hidden, xs, 0, xs.length);
      ForcedRouting forced = null;
      if (forcedIds != null) {
        int[][] ids = new int[layers.length][];
        float[][] w = new float[layers.length][];
        for (int i = 0; i < layers.length; i++) {
          ids[i] = Arrays.copyOfRange(forcedIds[i], first[r] * k, first[r + 1] * k);
          w[i] = Arrays.copyOfRange(forcedWeights[i], first[r] * k, first[r + 1] * k);
        }
        forced = new ForcedRouting(k, ids, w);
      }
      parts.add(workers.get(r).call(new Step(step, version, layers, count, hidden, first[r], xs, forced),
          StepResult.class));
    }
    CompletableFuture<?>[] all = parts.stream().filter(Objects::nonNull).toArray(CompletableFuture[]::new);
    return CompletableFuture.allOf(all)
        .whenComplete((ok, t) -> stepDone(version))
        .thenApply(ok -> gather(parts, first, tokens, layers.length, version, System.nanoTime() - start));
  }

  private StepOutput gather(List<CompletableFuture<StepResult>> parts, int[] first, int tokens, int layers,
      long version, long nanos) {
    int n = workers.size();
    float[] y = new float[tokens * hidden];
    long[] rows = new long[n];
    long[] computeNanos = new long[n];
    long[] cpuNanos = new long[n];
    int k = 0;
    for (CompletableFuture<StepResult> p : parts) {
      if (p != null) {
        k = p.join().k();
      }
    }
    int[][] ids = new int[layers][tokens * k];
    float[][] weights = new float[layers][tokens * k];
    for (int r = 0; r < n; r++) {
      if (parts.get(r) == null) {
        continue;
      }
      StepResult part = parts.get(r).join();
      System.arraycopy(part.y(), 0, y, first[r] * hidden, part.y().length);
      for (int i = 0; i < layers; i++) {
        System.arraycopy(part.ids()[i], 0, ids[i], first[r] * k, part.ids()[i].length);
        System.arraycopy(part.weights()[i], 0, weights[i], first[r] * k, part.weights()[i].length);
      }
      for (int o = 0; o < n; o++) {
        rows[o] += part.rowsTo()[o];
        computeNanos[o] += part.computeNanos()[o];
        cpuNanos[o] += part.cpuNanos()[o];
      }
    }
    return new StepOutput(y, version, k, ids, weights, rows, computeNanos, cpuNanos, nanos);
  }

  private void stepDone(long version) {
    boolean release;
    synchronized (this) {
      int left = inFlight.merge(version, -1, Integer::sum);
      if (left == 0) {
        inFlight.remove(version);
      }
      release = left == 0 && version != active;
    }
    if (release) {
      release(version);
    }
  }

  /**
   * Stages {@code placement} as the next version on every worker, then serves new steps with it.
   * Completes with the new version, or fails with a {@link PlacementRefusedException} carrying the
   * refusing worker's reason; then the old version stays in service.
   *
   * @param budgetBytes the most weight bytes a worker stages between two of its steps
   */
  public CompletableFuture<Long> switchPlacement(Placement placement, long budgetBytes) {
    long version;
    synchronized (this) {
      version = ++highest;
    }
    byte[] json = PlacementJson.toJson(placement).getBytes(StandardCharsets.UTF_8);
    List<CompletableFuture<Ack>> acks = new ArrayList<>();
    for (FrameClient w : workers) {
      acks.add(w.call(new Stage(version, budgetBytes, json), Ack.class));
    }
    return CompletableFuture.allOf(acks.toArray(CompletableFuture[]::new)).handle((ok, t) -> {
      if (t != null) {
        release(version);
        throw new PlacementRefusedException(failures(acks), t);
      }
      activate(version);
      return version;
    });
  }

  /**
   * Serves new steps with {@code version}, which every worker must have staged already (through
   * {@code POST /placement} on each, say).
   */
  public CompletableFuture<Long> adopt(long version) {
    List<CompletableFuture<WorkerStatus>> statuses = new ArrayList<>();
    for (FrameClient w : workers) {
      statuses.add(w.call(new StatusRequest(), WorkerStatus.class));
    }
    return CompletableFuture.allOf(statuses.toArray(CompletableFuture[]::new)).thenApply(ok -> {
      for (CompletableFuture<WorkerStatus> f : statuses) {
        WorkerStatus s = f.join();
        if (Arrays.stream(s.staged()).noneMatch(v -> v == version)) {
          throw new PlacementRefusedException("worker " + s.rank() + " has not staged placement version " + version
              + " (it holds " + Arrays.toString(s.staged()) + ")");
        }
      }
      synchronized (this) {
        highest = Math.max(highest, version);
      }
      activate(version);
      return version;
    });
  }

  private void activate(long version) {
    long old;
    boolean release;
    synchronized (this) {
      old = active;
      active = version;
      release = !inFlight.containsKey(old);
    }
    if (release) {
      release(old);
    }
  }

  /** Tells every worker to free {@code version}; a worker that cannot is only logged. */
  private void release(long version) {
    for (FrameClient w : workers) {
      w.call(new Release(version)).whenComplete((m, t) -> {
        if (t != null) {
          LOG.fine("releasing placement version " + version + " on " + w.peer() + ": " + t.getMessage());
        }
      });
    }
  }

  private static String failures(List<CompletableFuture<Ack>> acks) {
    List<String> why = new ArrayList<>();
    for (CompletableFuture<Ack> a : acks) {
      if (a.isCompletedExceptionally()) {
        try {
          a.join();
        } catch (CompletionException e) {
          why.add(e.getCause() == null ? e.toString() : e.getCause().getMessage());
        }
      }
    }
    return String.join("; ", why);
  }

  /** Every worker's status, by rank. */
  public List<WorkerStatus> status() {
    List<CompletableFuture<WorkerStatus>> all = new ArrayList<>();
    for (FrameClient w : workers) {
      all.add(w.call(new StatusRequest(), WorkerStatus.class));
    }
    return all.stream().map(CompletableFuture::join).toList();
  }

  @Override
  public void close() {
    workers.forEach(FrameClient::close);
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
  }
}

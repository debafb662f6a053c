package dev.moe.runtime.parallel;

import dev.moe.placement.InvalidPlacementException;
import dev.moe.placement.Placement;
import dev.moe.placement.PlacementJson;
import dev.moe.runtime.decoder.DecoderModel;
import dev.moe.runtime.layer.Routing;
import dev.moe.runtime.nativelib.Backend;
import dev.moe.runtime.nativelib.BackendChoice;
import dev.moe.runtime.nativelib.BackendThread;
import dev.moe.runtime.nativelib.ExpertBank;
import dev.moe.runtime.nativelib.Kernels;
import dev.moe.runtime.parallel.Message.Ack;
import dev.moe.runtime.parallel.Message.ActivePlacement;
import dev.moe.runtime.parallel.Message.Dispatch;
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
import dev.moe.runtime.rebalance.PlacementRefusedException;
import dev.moe.runtime.rebalance.PlacementVersion;
import dev.moe.runtime.rebalance.ReplicaChooser;
import dev.moe.runtime.rebalance.SlotFetcher;
import dev.moe.runtime.rebalance.SlotTable;
import dev.moe.runtime.rebalance.SlotVersions;
import dev.moe.runtime.rebalance.Stager;
import dev.moe.runtime.rebalance.StepBudget;
import dev.moe.runtime.rebalance.UnknownVersionException;
import dev.moe.runtime.stats.RoutingRecorder;
import dev.moe.runtime.stats.WorkerMetrics;
import dev.moe.stats.RoutingStats;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.logging.Logger;

/**
 * One worker of an expert-parallel group: one process per GPU, rank = its GPU in the placement.
 *
 * <p>It holds, for every MoE layer, an expert bank with its GPU's slots of the served placement
 * version, and the router and shared experts of every layer. A step gives it a share of the
 * batch's tokens (data-parallel attention, expert parallelism); for each layer it routes them,
 * picks for every (token, choice) a replica slot of the chosen expert following the placement's
 * replica shares, sends the rows to the slots' owners (itself included), combines the returned
 * rows in choice order, adds the shared experts, and goes on with the next layer. Meanwhile it
 * computes the rows its peers send to its slots.
 *
 * <p>The backend is used by one thread ({@code compute}); no task on it ever blocks, so workers
 * waiting on each other's rows cannot deadlock.
 *
 * <p>Nothing a request carries can crash it: each request is validated and fails alone with an
 * {@link Message.ErrorReply} naming the problem.
 */
public final class WorkerNode implements Transport.Handler, AutoCloseable {

  private static final Logger LOG = Logger.getLogger(WorkerNode.class.getName());
  private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

  /** Keys of one step's tokens: step-major, so that steps never share keys. */
  private static final long STEP_KEY_STRIDE = 1L << 32;

  private final int rank;
  private final int size;
  private final ExpertModel model;
  private final WorkerOptions options;
  private final Backend backend;
  private final ExecutorService compute;
  private final ExecutorService control;
  private final ExpertModel.LayerOps[] ops;
  private final SlotVersions versions;
  private final RoutingRecorder recorder;
  private final WorkerMetrics metrics;
  /** How long peers must have sent nothing before a stopping worker closes its transport. */
  static final Duration QUIET = Duration.ofMillis(200);

  private final AtomicInteger stepsInFlight = new AtomicInteger();
  private final AtomicInteger peerRequestsInFlight = new AtomicInteger();
  private volatile long lastPeerRequest = System.nanoTime() - QUIET.toNanos();
  private volatile Transport transport;
  private volatile StepBudget stagingBudget;
  private volatile boolean stopping;
  private volatile StepHandler stepHandler;

  /** This worker's part of the group's step protocol (see {@link Message.StepBegin}). */
  public interface StepHandler {

    /** Runs this worker's own requests for one step of the group's clock (possibly none). */
    CompletableFuture<StepEnd> step(StepBegin begin);

    /** On the clock's rank: a peer got requests while the clock idled. */
    void wake();
  }

  /**
   * Opens the backend and loads this worker's slots of {@code initial} (placement version {@code
   * initialVersion}) from the model. Serve requests only after {@link #attach}.
   */
  public WorkerNode(int rank, int size, ExpertModel model, Placement initial, long initialVersion,
      WorkerOptions options) {
    this.rank = rank;
    this.size = size;
    this.model = model;
    this.options = options;
    SlotTable first = SlotTable.of(initialVersion, initial, rank, size, model.layers(), model.experts(), model::isMoeLayer,
        "the initial placement");
    this.compute = Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, "worker-" + rank + "-compute");
      t.setDaemon(true);
      return t;
    });
    this.control = Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, "worker-" + rank + "-control");
      t.setDaemon(true);
      return t;
    });
    this.metrics = new WorkerMetrics(rank, size, options.metricsWindowSeconds());
    this.versions = new SlotVersions(compute, metrics::placementSwitched);
    Backend opened = null;
    RoutingRecorder rec = null;
    ExpertModel.LayerOps[] layerOps = new ExpertModel.LayerOps[model.layers()];
    this.ops = layerOps;
    try {
      opened = onCompute(() -> Backend.open(options.backend(), options.threads(), cudaDevice(rank, options)));
      Backend b = opened;
      this.backend = b;
      onCompute(() -> {
        for (int l = 0; l < model.layers(); l++) {
          if (model.isMoeLayer(l)) {
            layerOps[l] = model.layerOps(l, b);
          }
        }
        return null;
      });
      versions.installFirst(Stager.load(first, model.layers(), model::isMoeLayer, () -> newBank(first.slotsPerGpu()),
          model::expert, compute));
      metrics.placementInstalled(first.version());
      rec = new RoutingRecorder(model.layers(), model.experts(), model.topK(), options.statsSampleEvery(),
          model::isMoeLayer);
      this.recorder = rec;
    } catch (RuntimeException e) {
      versions.closeAll();
      if (rec != null) {
        rec.close();
      }
      Backend toClose = opened;
      compute.execute(() -> {
        for (ExpertModel.LayerOps op : layerOps) {
          if (op != null) {
            op.close();
          }
        }
        if (toClose != null) {
          toClose.close();
        }
      });
      compute.shutdown();
      control.shutdown();
      throw e;
    }
  }

  /** One GPU per worker: rank r takes device r, modulo the devices visible (all when several share a host). */
  private static int cudaDevice(int rank, WorkerOptions options) {
    int devices = options.backend() == BackendChoice.CPU ? 0 : Backend.cudaDeviceCount();
    return devices > 0 ? rank % devices : 0;
  }

  private ExpertBank newBank(int slots) {
    return ExpertBank.create(backend, slots, model.hidden(), model.inter(), options.weightDtype());
  }

  /** Connects this worker to its group; requests that need peers fail until then. */
  public void attach(Transport t) {
    if (t.rank() != rank || t.size() != size) {
      throw new IllegalArgumentException("transport of worker " + t.rank() + "/" + t.size() + " given to worker " + rank
          + "/" + size);
    }
    this.transport = t;
  }

  public int rank() {
    return rank;
  }

  public ExpertModel model() {
    return model;
  }

  public WorkerMetrics metrics() {
    return metrics;
  }

  /**
   * Null when ready: weights loaded (construction) and connected to every peer a step of the served
   * placement needs (see {@link #missingPeers}).
   */
  public String notReadyReason() {
    if (stopping) {
      return "shutting down";
    }
    if (transport == null) {
      return "not connected to its group yet";
    }
    long active = versions.active();
    List<Integer> missing = missingPeers(active);
    return missing.isEmpty() ? null : "not connected to worker(s) " + missing + " of the group, which placement version "
        + active + " needs";
  }

  /**
   * The peers a step on placement {@code version} needs but that are not connected: those whose
   * slots take tokens in it. A lost peer whose slots all have share 0 (a survivors' plan) is not
   * needed: its requests were lost with it, and the step clock moves on to the lowest rank left.
   */
  public List<Integer> missingPeers(long version) {
    Transport t = transport;
    PlacementVersion v = versions.acquire(version);
    try {
      List<Integer> missing = new ArrayList<>();
      for (int p = 0; p < size; p++) {
        if (!connected(t, p) && v.table().serves(p)) {
          missing.add(p);
        }
      }
      return missing;
    } finally {
      versions.release(v);
    }
  }

  /**
   * The rank whose step clock this worker follows: the lowest one connected. Every rank keeps a
   * clock, but only the lowest connected rank's steps; a rank that sees a lower one connected
   * refuses another's steps, so a clock that took over from a lost rank hands back when it returns.
   */
  public int clockRank() {
    Transport t = transport;
    int r = 0;
    while (!connected(t, r)) {
      r++;
    }
    return r;
  }

  /** Whether peer {@code r} is connected now (this worker itself always is). */
  public boolean connected(int r) {
    return connected(transport, r);
  }

  private boolean connected(Transport t, int r) {
    return r == rank || t != null && t.connected(r);
  }

  public RoutingStats routingStats(boolean reset, boolean transitions) {
    return recorder.snapshot(reset, transitions);
  }

  public String placementStatusJson() {
    return versions.statusJson();
  }

  @Override
  public CompletableFuture<Message> handle(Message request) {
    CompletableFuture<? extends Message> reply;
    try {
      reply = switch (request) {
        case Step s -> step(s);
        case Dispatch d -> fromPeer(() -> dispatch(d));
        case FetchSlot f -> fromPeer(() -> fetchSlot(f));
        // Parsing and checking a placement takes a while: not on the transport's I/O thread.
        case Stage s -> CompletableFuture.supplyAsync(() -> parsePlacement(s), control)
            .thenCompose(p -> stage(s.version(), s.budgetBytes(), p)).thenApply(v -> new Ack());
        case Release r -> release(r.version());
        case StepBegin b -> {
          int clock = clockRank();
          if (b.clock() != clock) {
            throw new RemoteException(ErrorCode.UNAVAILABLE, "worker " + rank + " follows the step clock of worker "
                + clock + ", not worker " + b.clock());
          }
          yield steps().step(b);
        }
        case Wake w -> {
          steps().wake();
          yield CompletableFuture.completedFuture(new Ack());
        }
        case PlacementQuery q -> CompletableFuture.completedFuture(activePlacement());
        case StatusRequest r -> CompletableFuture.completedFuture(
            new WorkerStatus(rank, notReadyReason() == null, versions.active(), versions.servable()));
        default -> throw new RemoteException(ErrorCode.BAD_REQUEST,
            "a worker does not take " + request.getClass().getSimpleName() + " requests");
      };
    } catch (RuntimeException e) {
      reply = CompletableFuture.failedFuture(e);
    }
    return reply.handle((m, t) -> {
      if (t != null) {
        RemoteException e = toRemote(t);
        metrics.error(e.code().name());
        throw e;
      }
      return (Message) m;
    });
  }

  /** A peer's request, tracked so that a stopping worker serves it before closing. */
  private <T extends Message> CompletableFuture<T> fromPeer(Supplier<CompletableFuture<T>> request) {
    peerRequestsInFlight.incrementAndGet();
    lastPeerRequest = System.nanoTime();
    CompletableFuture<T> reply;
    try {
      reply = request.get();
    } catch (RuntimeException e) {
      peerRequestsInFlight.decrementAndGet();
      throw e;
    }
    return reply.whenComplete((m, t) -> {
      lastPeerRequest = System.nanoTime();
      peerRequestsInFlight.decrementAndGet();
    });
  }

  /** The code a failure travels with. */
  private static RemoteException toRemote(Throwable failure) {
    Throwable t = failure;
    while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) {
      t = t.getCause();
    }
    return switch (t) {
      case RemoteException e -> e;
      case UnknownVersionException e -> new RemoteException(ErrorCode.UNKNOWN_VERSION, e.getMessage(), e);
      case PlacementRefusedException e -> new RemoteException(ErrorCode.REFUSED, e.getMessage(), e);
      case InvalidPlacementException e -> new RemoteException(ErrorCode.REFUSED, e.getMessage(), e);
      case IllegalArgumentException e -> new RemoteException(ErrorCode.BAD_REQUEST, e.getMessage(), e);
      // Requests that conflict with the worker's state, e.g. a second placement staged at once.
      case IllegalStateException e -> new RemoteException(ErrorCode.BAD_REQUEST, e.getMessage(), e);
      default -> new RemoteException(ErrorCode.INTERNAL, t.toString(), t);
    };
  }

  // ---- The serving engine's hooks ---------------------------------------------------------------------

  /** Serves the group's step protocol with {@code handler} (the engine, which keeps a step clock). */
  public void serveSteps(StepHandler handler) {
    this.stepHandler = handler;
  }

  private StepHandler steps() {
    StepHandler h = stepHandler;
    if (h == null) {
      throw new RemoteException(ErrorCode.BAD_REQUEST, "worker " + rank + " runs no serving engine (start it with"
          + " --api) and takes no step-clock messages");
    }
    return h;
  }

  /** The active version's placement document (placement-solver's JSON format). */
  public String activePlacementJson() {
    return new String(activePlacement().placementJson(), StandardCharsets.UTF_8);
  }

  private ActivePlacement activePlacement() {
    PlacementVersion v = versions.acquire(versions.active());
    try {
      return new ActivePlacement(v.version(),
          PlacementJson.toJson(v.table().placement()).getBytes(StandardCharsets.UTF_8));
    } finally {
      versions.release(v);
    }
  }

  /**
   * Runs one engine step's model work on the compute thread with placement {@code version} held
   * (and made active, if it is newer); {@code work} gets the MoE layers bound to that version.
   */
  public <T> CompletableFuture<T> runStep(long step, long version,
      Function<DecoderModel.MoeLayers, CompletableFuture<T>> work) {
    return heldStep(version, () -> { }, v -> {
      DecoderModel.MoeLayers moe = (layer, h, tokens) ->
          moeLayer(step * STEP_KEY_STRIDE, v, layer, h, tokens, null, null, 0);
      return CompletableFuture.supplyAsync(() -> work.apply(moe), compute).thenCompose(f -> f);
    });
  }

  /**
   * Runs {@code work} with placement {@code version} held, counted as a step in flight (so that a
   * stopping worker waits for it) and against the staging budget; {@code check} vets it first.
   */
  private <T> CompletableFuture<T> heldStep(long version, Runnable check,
      Function<PlacementVersion, CompletableFuture<T>> work) {
    // Counted before the checks, so that a stopping worker that sees no step in flight has none.
    stepsInFlight.incrementAndGet();
    PlacementVersion v;
    try {
      if (stopping) {
        throw new RemoteException(ErrorCode.UNAVAILABLE, "worker " + rank + " is shutting down and takes no new steps");
      }
      check.run();
      v = versions.acquire(version);
    } catch (RuntimeException e) {
      stepsInFlight.decrementAndGet();
      return CompletableFuture.failedFuture(e);
    }
    StepBudget budget = stagingBudget;
    if (budget != null) {
      budget.stepStarted();
    }
    long start = System.nanoTime();
    return CompletableFuture.completedFuture(v).thenCompose(work).whenComplete((result, failure) -> {
      versions.release(v);
      stepsInFlight.decrementAndGet();
      if (budget != null) {
        budget.stepDone();
      }
      if (failure == null) {
        metrics.stepDone((System.nanoTime() - start) / 1e9, budget != null);
      }
    });
  }

  /** A message to rank {@code r} of the group (this worker's own handler when it is {@code r}). */
  public <T extends Message> CompletableFuture<T> request(int r, Message message, Class<T> type) {
    if (r == rank) {
      return handle(message).thenApply(type::cast);
    }
    Transport t = transport;
    if (t == null) {
      return CompletableFuture.failedFuture(new RemoteException(ErrorCode.UNAVAILABLE, "worker " + rank
          + " is not connected to its group"));
    }
    return t.control(r, message, type);
  }

  public int size() {
    return size;
  }

  public long activeVersion() {
    return versions.active();
  }

  /** Placement versions ready to serve, the active one included. */
  public long[] stagedVersions() {
    return versions.servable();
  }

  public Backend backend() {
    return backend;
  }

  /** The thread that owns the backend: native work and the MoE layers run there. */
  public Executor compute() {
    return compute;
  }

  /** Runs {@code work} on the backend's thread and waits for it. */
  public <T> T callOnCompute(Supplier<T> work) {
    return onCompute(work);
  }

  // ---- Steps -------------------------------------------------------------------------------------

  /**
   * What one step of this worker produced besides its output: each layer's routing, and the rows
   * sent to and compute nanoseconds spent by each worker.
   */
  private record StepTally(int[][] ids, float[][] weights, long[] rowsTo, long[] computeNanos, long[] cpuNanos) {}

  private CompletableFuture<StepResult> step(Step s) {
    Runnable check = () -> {
      if (transport == null) {
        throw new RemoteException(ErrorCode.UNAVAILABLE, "worker " + rank + " is not connected to its group yet");
      }
      checkStep(s);
    };
    return heldStep(s.version(), check, v -> {
      int layers = s.layers().length;
      StepTally tally = new StepTally(new int[layers][], new float[layers][], new long[size], new long[size],
          new long[size]);
      CompletableFuture<float[]> out = CompletableFuture.completedFuture(s.x());
      for (int i = 0; i < layers; i++) {
        int index = i;
        out = out.thenComposeAsync(x -> layer(s, v, index, x, tally), compute);
      }
      return out.thenApply(y -> {
        int k = s.forced() != null ? s.forced().k() : model.topK();
        for (int i = 0; i < layers; i++) {
          if (tally.ids()[i] == null) {
            tally.ids()[i] = new int[0];
            tally.weights()[i] = new float[0];
          }
        }
        return new StepResult(y, k, tally.ids(), tally.weights(), tally.rowsTo(), tally.computeNanos(),
            tally.cpuNanos());
      });
    });
  }

  private void checkStep(Step s) {
    if (s.hidden() != model.hidden()) {
      throw new RemoteException(ErrorCode.BAD_REQUEST, "step " + s.step() + " has hidden size " + s.hidden()
          + ", the model's is " + model.hidden());
    }
    if (s.tokens() < 0 || (long) s.tokens() * s.hidden() != s.x().length) {
      throw new RemoteException(ErrorCode.BAD_REQUEST, "step " + s.step() + " announces " + s.tokens() + " tokens of "
          + s.hidden() + " but carries " + s.x().length + " values");
    }
    if (s.tokens() > options.maxTokens()) {
      throw new RemoteException(ErrorCode.OVERSIZE, "step " + s.step() + " gives worker " + rank + " " + s.tokens()
          + " tokens, over its limit of " + options.maxTokens());
    }
    if (s.layers().length == 0) {
      throw new RemoteException(ErrorCode.BAD_REQUEST, "step " + s.step() + " names no layer");
    }
    for (int layer : s.layers()) {
      checkMoeLayer(layer);
    }
    ForcedRouting f = s.forced();
    if (f != null) {
      if (f.k() != model.topK()) {
        throw new RemoteException(ErrorCode.BAD_REQUEST, "forced routing has " + f.k() + " choices per token, the model "
            + model.topK());
      }
      for (int i = 0; i < s.layers().length; i++) {
        long n = (long) s.tokens() * f.k();
        if (f.ids()[i].length != n || f.weights()[i].length != n) {
          throw new RemoteException(ErrorCode.BAD_REQUEST, "forced routing of layer " + s.layers()[i] + " has "
              + f.ids()[i].length + " ids and " + f.weights()[i].length + " weights for " + n + " (token, choice) pairs");
        }
        for (int id : f.ids()[i]) {
          if (id < 0 || id >= model.experts()) {
            throw new RemoteException(ErrorCode.BAD_REQUEST, "forced routing of layer " + s.layers()[i]
                + " names expert " + id + ", the model has " + model.experts());
          }
        }
      }
    }
  }

  private void checkMoeLayer(int layer) {
    if (layer < 0 || layer >= model.layers() || !model.isMoeLayer(layer)) {
      throw new RemoteException(ErrorCode.UNKNOWN_LAYER, model.moeLayerProblem(layer));
    }
  }

  private CompletableFuture<float[]> layer(Step s, PlacementVersion v, int index, float[] x, StepTally tally) {
    int layer = s.layers()[index];
    int tokens = s.tokens();
    if (tokens == 0) {
      return CompletableFuture.completedFuture(x);
    }
    Routing forced = s.forced() == null ? null
        : new Routing(tokens, s.forced().k(), s.forced().ids()[index], s.forced().weights()[index]);
    return moeLayer(s.step() * STEP_KEY_STRIDE + s.firstKey(), v, layer, x, tokens, forced, tally, index);
  }

  /**
   * One MoE layer for {@code tokens} rows of {@code x} on placement {@code v}, called on the compute
   * thread: route (or take {@code forced}), record the routing, send each (token, choice) row to
   * the owner of the replica chosen for it, combine the returned rows in choice order and add the
   * shared experts. Rows this worker owns are computed at once; the future completes when every
   * peer's rows are back (at once when there are none).
   *
   * @param keyBase identifies the tokens' rows across layers for the transition statistics
   * @param tally null, or where the step's accounting goes ({@code index}: the layer's place in it)
   */
  CompletableFuture<float[]> moeLayer(long keyBase, PlacementVersion v, int layer, float[] x, int tokens, Routing forced,
      StepTally tally, int index) {
    Routing r = forced != null ? forced : ops[layer].route(x, tokens);
    if (tally != null) {
      tally.ids()[index] = r.ids();
      tally.weights()[index] = r.weights();
    }
    int k = r.k();
    int hidden = model.hidden();
    int n = tokens * k;
    long[] keys = new long[tokens];
    for (int t = 0; t < tokens; t++) {
      keys[t] = keyBase + t;
    }
    recorder.record(layer, r.ids(), tokens, keys);
    metrics.routed(layer, n);

    // Replica choice, then the (token, choice) pairs grouped by owner and, within an owner, by slot.
    ReplicaChooser chooser = v.chooser(layer);
    SlotTable table = v.table();
    int slotsPerGpu = table.slotsPerGpu();
    int[] owner = new int[n];
    int[] local = new int[n];
    int[] perSlot = new int[size * slotsPerGpu];
    for (int i = 0; i < n; i++) {
      int slot = chooser.choose(r.ids()[i]);
      owner[i] = table.ownerOf(slot);
      local[i] = table.localIndex(slot);
      perSlot[slot]++;
    }
    int[] slotStart = new int[perSlot.length + 1];
    for (int g = 0; g < perSlot.length; g++) {
      slotStart[g + 1] = slotStart[g] + perSlot[g];
    }
    int[] rowOf = new int[n];
    int[] fill = slotStart.clone();
    for (int i = 0; i < n; i++) {
      rowOf[i] = fill[owner[i] * slotsPerGpu + local[i]]++;
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    CompletableFuture<Rows>[] replies = new CompletableFuture[size];
    long[] rowsTo = new long[size];
    long bytesSent = 0;
    boolean remote = false;
    Dispatch own = null;
    for (int o = 0; o < size; o++) {
      Dispatch d = dispatchTo(o, keyBase / STEP_KEY_STRIDE, v, layer, x, k, owner, rowOf, perSlot, slotStart);
      rowsTo[o] = d == null ? 0 : d.rows();
      if (d == null) {
        replies[o] = CompletableFuture.completedFuture(new Rows(new float[0], 0, 0));
      } else if (o == rank) {
        own = d;
      } else {
        replies[o] = transport.dispatch(o, d);
        bytesSent += 4L * d.x().length;
        remote = true;
      }
    }
    // Peers' rows are on their way; this worker's own are computed meanwhile, right here.
    if (own != null) {
      replies[rank] = CompletableFuture.completedFuture(rowsNow(v, own, false));
    }
    metrics.dispatched(rowsTo, bytesSent);
    if (!remote) {
      return CompletableFuture.completedFuture(combine(replies, rowsTo, slotStart, slotsPerGpu, rowOf, r, tokens, x,
          layer, tally));
    }
    return CompletableFuture.allOf(replies).thenApplyAsync(
        ignored -> combine(replies, rowsTo, slotStart, slotsPerGpu, rowOf, r, tokens, x, layer, tally), compute);
  }

  /** The rows of owner {@code o} grouped by its slots, or null when it gets none. */
  private Dispatch dispatchTo(int o, long step, PlacementVersion v, int layer, float[] x, int k, int[] owner, int[] rowOf,
      int[] perSlot, int[] slotStart) {
    int hidden = model.hidden();
    int slotsPerGpu = v.table().slotsPerGpu();
    int first = slotStart[o * slotsPerGpu];
    int rows = slotStart[(o + 1) * slotsPerGpu] - first;
    if (rows == 0) {
      return null;
    }
    int groups = 0;
    for (int i = 0; i < slotsPerGpu; i++) {
      groups += perSlot[o * slotsPerGpu + i] > 0 ? 1 : 0;
    }
    int[] slots = new int[groups];
    int[] offsets = new int[groups + 1];
    int g = 0;
    for (int i = 0; i < slotsPerGpu; i++) {
      int count = perSlot[o * slotsPerGpu + i];
      if (count > 0) {
        slots[g] = i;
        offsets[g + 1] = offsets[g] + count;
        g++;
      }
    }
    float[] xs = new float[rows * hidden];
    for (int i = 0; i < owner.length; i++) {
      if (owner[i] == o) {
        System.arraycopy(x, (i / k) * hidden, xs, (rowOf[i] - first) * hidden, hidden);
      }
    }
    return new Dispatch(step, layer, v.version(), hidden, slots, offsets, xs);
  }

  private float[] combine(CompletableFuture<Rows>[] replies, long[] rowsTo, int[] slotStart, int slotsPerGpu,
      int[] rowOf, Routing r, int tokens, float[] x, int layer, StepTally tally) {
    int hidden = model.hidden();
    int k = r.k();
    float[] rows = new float[tokens * k * hidden];
    for (int o = 0; o < size; o++) {
      Rows reply = replies[o].join();
      if (reply.y().length != rowsTo[o] * hidden) {
        throw new RemoteException(ErrorCode.INTERNAL, "worker " + o + " returned " + reply.y().length
            + " values for " + rowsTo[o] + " rows of " + hidden);
      }
      System.arraycopy(reply.y(), 0, rows, slotStart[o * slotsPerGpu] * hidden, reply.y().length);
      if (tally != null) {
        tally.rowsTo()[o] += rowsTo[o];
        tally.computeNanos()[o] += reply.computeNanos();
        tally.cpuNanos()[o] += reply.cpuNanos();
      }
    }
    float[] out = new float[tokens * hidden];
    Kernels.combine(rows, rowOf, r.weights(), tokens, k, hidden, out);
    ops[layer].finish(x, tokens, out);
    return out;
  }

  // ---- Requests from peers -------------------------------------------------------------------------

  private CompletableFuture<Rows> dispatch(Dispatch d) {
    checkDispatch(d);
    PlacementVersion v = versions.acquire(d.version());
    try {
      for (int slot : d.slots()) {
        if (slot < 0 || slot >= v.table().slotsPerGpu()) {
          throw new RemoteException(ErrorCode.BAD_REQUEST, "dispatch names slot " + slot + "; worker " + rank
              + " has slots 0.." + (v.table().slotsPerGpu() - 1) + " in placement version " + d.version());
        }
      }
    } catch (RuntimeException e) {
      versions.release(v);
      throw e;
    }
    return computeRows(v, d).whenComplete((rows, t) -> versions.release(v));
  }

  /** Runs a peer's dispatch on this worker's slots of {@code v}, which the caller holds, on the compute thread. */
  private CompletableFuture<Rows> computeRows(PlacementVersion v, Dispatch d) {
    return CompletableFuture.supplyAsync(() -> rowsNow(v, d, true), compute);
  }

  /** The dispatch's rows through this worker's slots of {@code v}; on the compute thread. */
  private Rows rowsNow(PlacementVersion v, Dispatch d, boolean fromPeer) {
    ExpertBank bank = v.bank(d.layer());
    int groups = d.slots().length;
    long[] offsets = new long[groups + 1];
    for (int g = 0; g <= groups; g++) {
      offsets[g] = d.offsets()[g];
    }
    float[] y = new float[d.x().length];
    long cpu = THREADS.getCurrentThreadCpuTime();
    long start = System.nanoTime();
    bank.ffn(d.x(), d.rows(), d.slots(), offsets, groups, y);
    long wall = System.nanoTime() - start;
    cpu = THREADS.getCurrentThreadCpuTime() - cpu;
    metrics.computed(d.rows(), fromPeer ? 4L * d.x().length : 0);
    return new Rows(y, wall, cpu);
  }

  private void checkDispatch(Dispatch d) {
    checkMoeLayer(d.layer());
    if (d.hidden() != model.hidden()) {
      throw new RemoteException(ErrorCode.BAD_REQUEST, "dispatch of step " + d.step() + " has hidden size " + d.hidden()
          + ", the model's is " + model.hidden());
    }
    int groups = d.slots().length;
    if (d.offsets().length != groups + 1 || d.offsets()[0] != 0) {
      throw new RemoteException(ErrorCode.BAD_REQUEST, "dispatch of step " + d.step() + " has " + groups
          + " slot groups and " + d.offsets().length + " offsets; expected " + (groups + 1) + " starting at 0");
    }
    for (int g = 0; g < groups; g++) {
      if (d.offsets()[g + 1] < d.offsets()[g]) {
        throw new RemoteException(ErrorCode.BAD_REQUEST, "dispatch offsets decrease at group " + g);
      }
    }
    long rows = d.offsets()[groups];
    if (rows * d.hidden() != d.x().length) {
      throw new RemoteException(ErrorCode.BAD_REQUEST, "dispatch of step " + d.step() + " announces " + rows
          + " rows of " + d.hidden() + " but carries " + d.x().length + " values");
    }
    if (rows > options.maxRows()) {
      throw new RemoteException(ErrorCode.OVERSIZE, "dispatch of " + rows + " rows is over worker " + rank
          + "'s limit of " + options.maxRows());
    }
  }

  private CompletableFuture<SlotCopy> fetchSlot(FetchSlot f) {
    checkMoeLayer(f.layer());
    PlacementVersion v = versions.acquire(f.version());
    int[] experts = v.table().localExperts(f.layer());
    int slot = -1;
    for (int i = 0; i < experts.length && slot < 0; i++) {
      slot = experts[i] == f.expert() ? i : -1;
    }
    if (slot < 0) {
      versions.release(v);
      throw new RemoteException(ErrorCode.BAD_REQUEST, "worker " + rank + " holds no slot of expert " + f.expert()
          + " in layer " + f.layer() + " of placement version " + f.version());
    }
    ExpertBank bank = v.bank(f.layer());
    int held = slot;
    return CompletableFuture.supplyAsync(() -> new SlotCopy(bank.export(held), bank.checksum(held)), compute)
        .whenComplete((c, t) -> versions.release(v));
  }

  // ---- Placement versions ---------------------------------------------------------------------------

  private Placement parsePlacement(Stage s) {
    try {
      return PlacementJson.parse(s.placementJson(), "placement version " + s.version(), model.experts(), 0);
    } catch (InvalidPlacementException e) {
      versions.refused(s.version(), e.getMessage());
      metrics.placementRefused();
      throw e;
    }
  }

  /** Whether this worker is staging or holds placement {@code version}. */
  public boolean hasVersion(long version) {
    return versions.has(version);
  }

  /**
   * Stages placement {@code version} beside the served one, moving at most {@code budgetBytes} of
   * weights per step; completes when it is ready to serve, or fails with the reason it was
   * refused (the served version stays).
   */
  public CompletableFuture<Long> stage(long version, long budgetBytes, Placement placement) {
    SlotTable table;
    try {
      table = SlotTable.of(version, placement, rank, size, model.layers(), model.experts(), model::isMoeLayer,
          "placement version " + version);
    } catch (InvalidPlacementException e) {
      versions.refused(version, e.getMessage());
      metrics.placementRefused();
      throw e;
    }
    Transport t = transport;
    if (t == null) {
      throw new RemoteException(ErrorCode.UNAVAILABLE, "worker " + rank + " is not connected to its group yet");
    }
    PlacementVersion source = versions.beginStaging(version);
    StepBudget budget = new StepBudget(budgetBytes, options.idleMillis(), TimeUnit.MILLISECONDS);
    stagingBudget = budget;
    SlotFetcher fetcher = (worker, from, layer, expert) -> t.fetchSlot(worker, new FetchSlot(from, layer, expert))
        .thenApply(c -> new SlotFetcher.Copy(c.bytes(), c.checksum()));
    return Stager.stage(rank, table, source, model.layers(), model::isMoeLayer, () -> newBank(table.slotsPerGpu()),
        model::expert, fetcher, budget, compute, metrics::staged)
        .handle((staged, failure) -> {
          stagingBudget = null;
          versions.release(source);
          if (failure != null) {
            String why = toRemote(failure).getMessage();
            versions.refused(version, why);
            metrics.placementRefused();
            LOG.warning("worker " + rank + ": " + why);
            throw new PlacementRefusedException(why, failure);
          }
          if (!versions.staged(staged)) {
            throw new PlacementRefusedException("placement version " + version + " was released while being staged");
          }
          return version;
        });
  }

  private CompletableFuture<Ack> release(long version) {
    versions.retire(version);
    return CompletableFuture.completedFuture(new Ack());
  }

  // ---- Lifecycle ------------------------------------------------------------------------------------

  /**
   * Graceful stop: refuses new steps, lets its own steps in flight finish, and keeps computing its
   * peers' rows until they have been quiet for {@link #QUIET} (their steps in flight need this
   * worker's experts too), for up to {@code grace} in all; then closes the transport and frees
   * everything.
   */
  public void shutdown(Duration grace) {
    stopping = true;
    long deadline = System.nanoTime() + grace.toNanos();
    while (System.nanoTime() < deadline && (stepsInFlight.get() > 0 || peerRequestsInFlight.get() > 0
        || System.nanoTime() - lastPeerRequest < QUIET.toNanos())) {
      try {
        Thread.sleep(10);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
    }
    if (stepsInFlight.get() > 0 || peerRequestsInFlight.get() > 0) {
      LOG.warning("worker " + rank + ": " + stepsInFlight.get() + " steps and " + peerRequestsInFlight.get()
          + " peer requests still in flight after " + grace.toMillis() + " ms; closing anyway");
    }
    close();
  }

  @Override
  public synchronized void close() {
    stopping = true;
    Transport t = transport;
    transport = null;
    if (t != null) {
      t.close();
    }
    versions.closeAll();
    compute.execute(() -> {
      for (ExpertModel.LayerOps op : ops) {
        if (op != null) {
          op.close();
        }
      }
    });
    compute.execute(recorder::close);
    compute.execute(backend::close);
    compute.shutdown();
    control.shutdown();
    try {
      if (!compute.awaitTermination(10, TimeUnit.SECONDS)) {
        LOG.warning("worker " + rank + ": the compute thread did not finish within 10 s");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private <T> T onCompute(Supplier<T> work) {
    return BackendThread.call(compute, work);
  }
}

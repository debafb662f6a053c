package dev.moe.runtime.scheduler;

import dev.moe.runtime.decoder.DecoderModel;
import dev.moe.runtime.kvcache.BlockAllocator;
import dev.moe.runtime.model.Checkpoint;
import dev.moe.runtime.model.ModelConfig;
import dev.moe.runtime.parallel.Message.Ack;
import dev.moe.runtime.parallel.Message.StepBegin;
import dev.moe.runtime.parallel.Message.StepEnd;
import dev.moe.runtime.parallel.Message.Wake;
import dev.moe.runtime.parallel.WorkerNode;
import dev.moe.runtime.sampling.Sampler;
import dev.moe.runtime.tensor.DType;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.stream.LongStream;

/**
 * One worker's serving engine: the requests it receives, their KV cache, and its part of every
 * step of the group (data-parallel attention; the MoE layers through the group's expert
 * parallelism). Steps come from the group's clock ({@link StepClock}, on the lowest connected
 * rank); a step runs this worker's next batch, possibly empty, on the placement version the clock
 * names.
 */
public final class Engine implements InferenceEngine, WorkerNode.StepHandler, AutoCloseable {

  private static final Logger LOG = Logger.getLogger(Engine.class.getName());

  /** A step waiting on a peer longer than this failed (its requests run again). */
  static final Duration STEP_TIMEOUT = Duration.ofSeconds(120);
  /** The default of {@link Options#peerLossGrace}. */
  public static final Duration DEFAULT_PEER_LOSS_GRACE = Duration.ofSeconds(30);
  /** How often the engine looks whether its group can step. */
  private static final Duration GROUP_WATCH = Duration.ofMillis(250);

  /**
   * @param modelId the model's name in the API
   * @param kvCacheTokens token positions of KV cache on this worker (rounded down to whole blocks)
   * @param maxModelLength longest prompt + completion (0: the model's max_position_embeddings)
   * @param peerLossGrace how long this worker's requests wait while the group cannot step for them (a
   *     peer the served placement needs is lost), before they end as {@link FinishReason#UNAVAILABLE}
   */
  public record Options(String modelId, DType storage, long kvCacheTokens, int blockSize, int maxModelLength,
      Scheduler.Limits limits, Duration peerLossGrace) {}

  private final WorkerNode node;
  private final Options options;
  private final ModelConfig config;
  private final DecoderModel model;
  private final Scheduler scheduler;
  private final int maxModelLength;
  private final ExecutorService stepThread;
  private final StepClock clock;
  private final ScheduledExecutorService groupWatch;
  /** When the group was first seen unable to step for this worker's requests; 0 while it can. */
  private long brokenSince;
  private volatile boolean idleReported = true;
  private volatile boolean draining;
  private volatile boolean closed;

  private Engine(WorkerNode node, Options options, ModelConfig config, DecoderModel model, int blocks) {
    this.node = node;
    this.options = options;
    this.config = config;
    this.model = model;
    this.maxModelLength = options.maxModelLength() > 0
        ? Math.min(options.maxModelLength(), config.maxPositionEmbeddings()) : config.maxPositionEmbeddings();
    this.scheduler = new Scheduler(new BlockAllocator(blocks), options.blockSize(), maxModelLength, options.limits(),
        config.eosTokenIds(), node.metrics());
    this.stepThread = Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, "worker-" + node.rank() + "-engine");
      t.setDaemon(true);
      return t;
    });
    this.clock = new StepClock(node);
    this.groupWatch = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "worker-" + node.rank() + "-group-watch");
      t.setDaemon(true);
      return t;
    });
  }

  /**
   * Loads everything but the routed experts onto {@code node}'s backend, sizes the KV cache, and
   * serves the group's steps on {@code node}. The checkpoint must stay open while the engine runs.
   */
  public static Engine start(WorkerNode node, Checkpoint checkpoint, Options options) {
    ModelConfig config = checkpoint.modelConfig();
    if (options.blockSize() < 1) {
      throw new IllegalArgumentException("the KV-cache block size must be at least 1, got " + options.blockSize());
    }
    long blocks = options.kvCacheTokens() / options.blockSize();
    if (blocks < 1) {
      throw new IllegalArgumentException("a KV cache of " + options.kvCacheTokens() + " tokens holds no block of "
          + options.blockSize());
    }
    int b = Math.toIntExact(Math.min(blocks, Integer.MAX_VALUE));
    DecoderModel model = node.callOnCompute(() ->
        DecoderModel.load(node.backend(), checkpoint, options.storage(), b, options.blockSize()));
    Engine engine = new Engine(node, options, config, model, b);
    node.serveSteps(engine);
    engine.clock.start();
    engine.groupWatch.scheduleWithFixedDelay(engine::watchGroup, GROUP_WATCH.toMillis(), GROUP_WATCH.toMillis(),
        TimeUnit.MILLISECONDS);
    return engine;
  }

  @Override
  public String modelId() {
    return options.modelId();
  }

  @Override
  public int maxModelLength() {
    return maxModelLength;
  }

  @Override
  public int vocabSize() {
    return config.vocabSize();
  }

  @Override
  public String notReadyReason() {
    if (closed || draining) {
      return "shutting down";
    }
    return node.notReadyReason();
  }

  @Override
  public GenerationHandle submit(GenerationRequest request, TokenSink sink) {
    String notReady = notReadyReason();
    if (notReady != null) {
      throw new EngineRejectedException(EngineRejectedException.Kind.UNAVAILABLE, "not ready: " + notReady);
    }
    try {
      request.sampling().validate(config.vocabSize());
    } catch (IllegalArgumentException e) {
      throw new EngineRejectedException(EngineRejectedException.Kind.INVALID, e.getMessage());
    }
    for (int token : request.prompt()) {
      if (token < 0 || token >= config.vocabSize()) {
        throw new EngineRejectedException(EngineRejectedException.Kind.INVALID, "prompt token " + token
            + " is not a token id of this model (0.." + (config.vocabSize() - 1) + ")");
      }
    }
    GenerationHandle handle = scheduler.submit(request, new Sampler(request.sampling(), config.vocabSize()), sink);
    if (idleReported) {
      idleReported = false;
      wakeClock();
    }
    return handle;
  }

  private void wakeClock() {
    int holder = node.clockRank();
    if (holder == node.rank()) {
      clock.wake();
    } else {
      node.request(holder, new Wake(), Ack.class).whenComplete((ack, t) -> {
        if (t != null) {
          // The clock's rank is away; whoever keeps the clock next steps now and then anyway.
          LOG.fine("worker " + node.rank() + ": cannot wake the step clock: " + t.getMessage());
        }
      });
    }
  }

  @Override
  public void wake() {
    clock.wake();
  }

  /** Whether this worker runs the group's step clock now (the lowest connected rank). */
  public boolean runsStepClock() {
    return clock.running();
  }

  @Override
  public CompletableFuture<StepEnd> step(StepBegin begin) {
    return CompletableFuture.supplyAsync(() -> runStep(begin), stepThread);
  }

  /** This worker's part of one step of the group: its next batch (possibly empty) on the clock's version. */
  private StepEnd runStep(StepBegin begin) {
    long[] staged = node.stagedVersions();
    if (LongStream.of(staged).noneMatch(v -> v == begin.version())) {
      // A worker that rejoined while the others moved on (a survivors' plan): its requests wait, unharmed,
      // until it has staged the group's version (the operator hands it the served revision).
      return new StepEnd(begin.step(), scheduler.hasWork(), staged, "worker " + node.rank()
          + " does not hold placement version " + begin.version() + " yet");
    }
    Scheduler.Plan plan = scheduler.plan();
    String failure = "";
    DecoderModel.Batch batch = new DecoderModel.Batch(plan.tokens(), plan.seqRows(), plan.seqStart(),
        plan.blockTable(), plan.maxBlocks(), plan.logitRows());
    // An empty batch still takes the step's placement version: the group switches together.
    CompletableFuture<float[]> logits = node.runStep(begin.step(), begin.version(), moe -> plan.empty()
        ? CompletableFuture.completedFuture(new float[0])
        : model.forward(batch, moe, node.compute()));
    try {
      float[] out = logits.get(STEP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
      if (!plan.empty()) {
        scheduler.completed(plan, out, config.vocabSize());
      }
    } catch (ExecutionException | TimeoutException e) {
      Throwable cause = e instanceof ExecutionException && e.getCause() != null ? e.getCause() : e;
      failure = "step " + begin.step() + " failed on worker " + node.rank() + ": " + cause.getMessage();
      LOG.log(Level.WARNING, failure, cause);
      scheduler.failed(plan, failure);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      failure = "worker " + node.rank() + " was interrupted";
      scheduler.failed(plan, failure);
    }
    scheduler.publish();
    // Reported idle before looking at the queue, so that a request arriving meanwhile wakes the clock.
    idleReported = true;
    boolean busy = scheduler.hasWork();
    if (busy) {
      idleReported = false;
    }
    return new StepEnd(begin.step(), busy, node.stagedVersions(), failure);
  }

  /**
   * Ends this worker's requests, retryably, once the group has been unable to step for them for
   * {@link Options#peerLossGrace}: a lost peer that the served placement needs did not come back,
   * and no placement leaving it out was staged meanwhile. Their clients are not left hanging.
   */
  private void watchGroup() {
    String broken = node.notReadyReason();
    if (broken == null || closed || !scheduler.hasWork()) {
      brokenSince = 0;
      return;
    }
    long now = System.nanoTime();
    if (brokenSince == 0) {
      brokenSince = now;
    } else if (now - brokenSince >= options.peerLossGrace().toNanos()) {
      brokenSince = 0;
      String why = "the group could not step for " + options.peerLossGrace().toSeconds() + " s: " + broken;
      LOG.warning("worker " + node.rank() + ": " + scheduler + "; ending them: " + why);
      stepThread.execute(() -> {
        scheduler.failAll(FinishReason.UNAVAILABLE, why);
        scheduler.publish();
      });
    }
  }

  /**
   * Refuses new requests and waits up to {@code grace} for those already taken to finish (the
   * group keeps stepping meanwhile).
   */
  public void drain(Duration grace) {
    draining = true;
    long deadline = System.nanoTime() + grace.toNanos();
    while (scheduler.hasWork() && System.nanoTime() < deadline) {
      try {
        Thread.sleep(10);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }

  /** Stops the clock and fails what is left; the node is closed by its owner. */
  @Override
  public void close() {
    closed = true;
    groupWatch.shutdownNow();
    clock.close();
    stepThread.submit(() -> scheduler.failAll(FinishReason.UNAVAILABLE, "the worker is shutting down"));
    stepThread.shutdown();
    try {
      stepThread.awaitTermination(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    node.callOnCompute(() -> {
      model.close();
      return null;
    });
  }
}

package dev.moe.runtime.scheduler;

import dev.moe.runtime.kvcache.BlockAllocator;
import dev.moe.runtime.sampling.Sampler;
import dev.moe.runtime.sampling.TokenLogprobs;
import dev.moe.runtime.stats.WorkerMetrics;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;

/**
 * Continuous batching for one worker's requests (vLLM's scheduler, simplified): each step takes
 * one token of every decoding sequence, then prompt chunks of the sequences still prefilling, up
 * to a token budget; a waiting request is admitted, first come first served, once the KV cache has
 * the blocks for its whole prompt and token budget. Prefill chunks mix with decodes in one step.
 *
 * <p>{@link #submit} may be called from any thread; everything else runs on the engine's step
 * thread.
 */
public final class Scheduler {

  /** How often a step that fails for a sequence is retried before the sequence fails. */
  static final int MAX_FAILURES = 3;

  /** Limits of a worker's batches. */
  public record Limits(int maxBatchTokens, int maxRunning, int maxWaiting) {
    public Limits {
      if (maxBatchTokens < 1 || maxRunning < 1 || maxWaiting < 0) {
        throw new IllegalArgumentException("batch limits must be positive (waiting may be 0): " + maxBatchTokens + ", "
            + maxRunning + ", " + maxWaiting);
      }
    }
  }

  /**
   * One step's work: per scheduled sequence its rows (tokens starting at position {@code start}),
   * and which rows' logits are needed (a sequence whose chunk reaches its last known token).
   */
  public record Plan(List<Sequence> sequences, int[] tokens, int[] seqRows, int[] seqStart, int[] blockTable,
      int maxBlocks, int[] logitRows, Sequence[] sampled) {

    public boolean empty() {
      return sequences.isEmpty();
    }

    public int rows() {
      return tokens.length;
    }
  }

  private final BlockAllocator allocator;
  private final int blockSize;
  private final int maxModelLength;
  private final Limits limits;
  private final int[] eos;
  private final WorkerMetrics metrics;
  private final Deque<Sequence> waiting = new ArrayDeque<>();
  private final List<Sequence> running = new ArrayList<>();

  /** @param metrics where queue, cache and token figures go; null for none */
  public Scheduler(BlockAllocator allocator, int blockSize, int maxModelLength, Limits limits, int[] eosTokenIds,
      WorkerMetrics metrics) {
    this.allocator = allocator;
    this.metrics = metrics;
    this.blockSize = blockSize;
    this.maxModelLength = maxModelLength;
    this.limits = limits;
    this.eos = eosTokenIds.clone();
    publish();  // the cache's size is known before the first step
  }

  /**
   * Queues a request.
   *
   * @throws EngineRejectedException INVALID when it can never fit, QUEUE_FULL when too many wait
   */
  public GenerationHandle submit(GenerationRequest request, Sampler sampler, TokenSink sink) {
    int prompt = request.promptLength();
    if (prompt == 0) {
      throw new EngineRejectedException(EngineRejectedException.Kind.INVALID, "the prompt is empty");
    }
    int wanted = prompt + request.sampling().maxTokens();
    if (prompt >= maxModelLength) {
      throw new EngineRejectedException(EngineRejectedException.Kind.INVALID, "the prompt has " + prompt
          + " tokens; this model's maximum context length is " + maxModelLength + " tokens, prompt and completion"
          + " together");
    }
    int limit = Math.min(wanted, maxModelLength);
    int blocks = blocksFor(limit);
    if (blocks > allocator.total()) {
      throw new EngineRejectedException(EngineRejectedException.Kind.INVALID, "the request needs " + limit
          + " tokens of KV cache (prompt " + prompt + " + max_tokens " + request.sampling().maxTokens()
          + "), more than this worker's cache of " + (long) allocator.total() * blockSize + " tokens");
    }
    Sequence s = new Sequence(request, sampler, sink, limit);
    synchronized (this) {
      if (waiting.size() >= limits.maxWaiting()) {
        throw new EngineRejectedException(EngineRejectedException.Kind.QUEUE_FULL, waiting.size()
            + " requests are already waiting on this worker; retry later");
      }
      waiting.add(s);
    }
    return s;
  }

  private int blocksFor(int tokens) {
    return (tokens + blockSize - 1) / blockSize;
  }

  /** Whether a step would have anything to do. */
  public synchronized boolean hasWork() {
    return !running.isEmpty() || !waiting.isEmpty();
  }

  public synchronized int waitingCount() {
    return waiting.size();
  }

  /** Publishes the queue and the cache's use (after each step). */
  public void publish() {
    if (metrics != null) {
      metrics.engineState(waitingCount(), running.size(), allocator.total() - allocator.free(), allocator.total());
    }
  }

  /** Drops cancelled sequences, admits what fits, and lays out the next step. */
  public Plan plan() {
    dropCancelled();
    int budget = limits.maxBatchTokens();
    List<Sequence> chosen = new ArrayList<>();
    List<Integer> counts = new ArrayList<>();
    // Decodes first: one token each, so that running requests keep their pace.
    for (Sequence s : running) {
      if (budget == 0) {
        break;
      }
      if (s.length() - s.computed == 1) {
        chosen.add(s);
        counts.add(1);
        budget--;
      }
    }
    // Then prompts still being prefilled, in arrival order, in chunks that fit the budget.
    for (Sequence s : running) {
      int remaining = s.length() - s.computed;
      if (budget > 0 && remaining > 1) {
        int n = Math.min(remaining, budget);
        chosen.add(s);
        counts.add(n);
        budget -= n;
      }
    }
    admit(budget, chosen, counts);
    return layout(chosen, counts);
  }

  private void admit(int budget, List<Sequence> chosen, List<Integer> counts) {
    synchronized (this) {
      while (budget > 0 && running.size() < limits.maxRunning() && !waiting.isEmpty()) {
        Sequence s = waiting.peek();
        int[] blocks = allocator.allocate(blocksFor(s.limit));
        if (blocks == null) {
          return;  // first come, first served: later requests wait behind it
        }
        waiting.poll();
        s.blocks = blocks;
        if (metrics != null) {
          metrics.promptAdmitted(s.request.promptLength());
        }
        running.add(s);
        int n = Math.min(s.length(), budget);
        chosen.add(s);
        counts.add(n);
        budget -= n;
      }
    }
  }

  private Plan layout(List<Sequence> chosen, List<Integer> counts) {
    int rows = counts.stream().mapToInt(Integer::intValue).sum();
    int[] tokens = new int[rows];
    int[] seqRows = new int[chosen.size()];
    int[] seqStart = new int[chosen.size()];
    int maxBlocks = 1;
    for (Sequence s : chosen) {
      maxBlocks = Math.max(maxBlocks, s.blocks.length);
    }
    int[] table = new int[chosen.size() * maxBlocks];
    List<Integer> logitRows = new ArrayList<>();
    List<Sequence> sampled = new ArrayList<>();
    int row = 0;
    for (int i = 0; i < chosen.size(); i++) {
      Sequence s = chosen.get(i);
      int n = counts.get(i);
      seqRows[i] = n;
      seqStart[i] = s.computed;
      for (int j = 0; j < n; j++) {
        tokens[row + j] = s.token(s.computed + j);
      }
      System.arraycopy(s.blocks, 0, table, i * maxBlocks, s.blocks.length);
      row += n;
      if (s.computed + n == s.length()) {
        logitRows.add(row - 1);
        sampled.add(s);
      }
    }
    return new Plan(List.copyOf(chosen), tokens, seqRows, seqStart, table, maxBlocks,
        logitRows.stream().mapToInt(Integer::intValue).toArray(), sampled.toArray(Sequence[]::new));
  }

  /**
   * Applies a finished step: every scheduled sequence's chunk is now in the cache, and each
   * sequence in {@code plan.sampled()} gets the next token from its row of {@code logits}
   * ({@code [plan.logitRows().length, vocab]}). Tokens and finishes go to the sinks.
   */
  public void completed(Plan plan, float[] logits, int vocab) {
    for (int i = 0; i < plan.sequences().size(); i++) {
      Sequence s = plan.sequences().get(i);
      s.computed += plan.seqRows()[i];
      s.failures = 0;
    }
    for (int i = 0; i < plan.sampled().length; i++) {
      Sequence s = plan.sampled()[i];
      if (s.finished) {
        continue;
      }
      Sampler.Sample sample = s.sampler.next(logits, i * vocab);
      s.append(sample.token());
      emit(s, sample.token(), sample.logprobs());
      FinishReason reason = finishReason(s, sample.token());
      if (reason != null) {
        finish(s, reason, null);
      }
    }
  }

  /**
   * A step failed on this worker (a peer lost mid-step, say): nothing it computed is kept, and its
   * sequences run again in a later step (rewriting the same cache positions with the same values).
   * A sequence whose steps failed {@link #MAX_FAILURES} times in a row fails with {@code why}.
   */
  public void failed(Plan plan, String why) {
    for (Sequence s : plan.sequences()) {
      if (++s.failures >= MAX_FAILURES && !s.finished) {
        finish(s, FinishReason.ERROR, why);
      }
    }
  }

  private FinishReason finishReason(Sequence s, int token) {
    if (!s.request.sampling().ignoreEos() && contains(eos, token)) {
      return FinishReason.STOP;
    }
    if (contains(s.request.sampling().stopTokenIds(), token)) {
      return FinishReason.STOP;
    }
    if (s.generated() >= s.request.sampling().maxTokens() || s.length() >= s.limit) {
      return FinishReason.LENGTH;
    }
    return null;
  }

  private static boolean contains(int[] ids, int token) {
    for (int id : ids) {
      if (id == token) {
        return true;
      }
    }
    return false;
  }

  private void dropCancelled() {
    for (Iterator<Sequence> it = running.iterator(); it.hasNext(); ) {
      Sequence s = it.next();
      if (s.finished) {
        it.remove();
      } else if (s.cancelled()) {
        it.remove();
        finish(s, FinishReason.CANCELLED, null);
      }
    }
    List<Sequence> gone = new ArrayList<>();
    synchronized (this) {
      for (Iterator<Sequence> it = waiting.iterator(); it.hasNext(); ) {
        Sequence s = it.next();
        if (s.cancelled()) {
          it.remove();
          gone.add(s);
        }
      }
    }
    gone.forEach(s -> finish(s, FinishReason.CANCELLED, null));
  }

  private void finish(Sequence s, FinishReason reason, String message) {
    s.finished = true;
    if (s.blocks != null) {
      allocator.release(s.blocks);
      s.blocks = null;
    }
    running.remove(s);
    if (metrics != null) {
      metrics.requestFinished(reason.name().toLowerCase(Locale.ROOT));
    }
    try {
      s.sink.onFinish(reason, message);
    } catch (RuntimeException e) {
      // A sink's failure is the client's problem; the engine goes on.
    }
  }

  private void emit(Sequence s, int token, TokenLogprobs logprobs) {
    long now = System.nanoTime();
    if (metrics != null) {
      boolean first = s.generated() == 1;
      metrics.tokenGenerated(first, (now - (first ? s.arrivalNanos : s.lastTokenNanos)) / 1e9);
    }
    s.lastTokenNanos = now;
    try {
      s.sink.onToken(token, logprobs);
    } catch (RuntimeException e) {
      s.cancel();
    }
  }

  /** Ends every request with {@code reason} (the engine is stopping, its group cannot step). */
  public void failAll(FinishReason reason, String why) {
    List<Sequence> all = new ArrayList<>(running);
    synchronized (this) {
      all.addAll(waiting);
      waiting.clear();
    }
    for (Sequence s : all) {
      if (!s.finished) {
        finish(s, reason, why);
      }
    }
    running.clear();
  }

  @Override
  public String toString() {
    return "scheduler: " + running.size() + " running, " + waitingCount() + " waiting, " + allocator.free() + "/"
        + allocator.total() + " blocks free";
  }
}

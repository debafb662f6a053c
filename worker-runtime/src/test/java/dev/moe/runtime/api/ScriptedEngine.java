package dev.moe.runtime.api;

import dev.moe.runtime.sampling.SamplingParams;
import dev.moe.runtime.sampling.TokenLogprobs;
import dev.moe.runtime.scheduler.EngineRejectedException;
import dev.moe.runtime.scheduler.FinishReason;
import dev.moe.runtime.scheduler.GenerationHandle;
import dev.moe.runtime.scheduler.GenerationRequest;
import dev.moe.runtime.scheduler.InferenceEngine;
import dev.moe.runtime.scheduler.TokenSink;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A stand-in for the engine: one step thread that gives every running request the next token of a
 * fixed script each step (then end of sequence, unless ignore_eos, or max_tokens), at a chosen pace.
 * It records what it was given and which requests were cancelled, and can refuse or fail requests.
 */
public final class ScriptedEngine implements InferenceEngine, AutoCloseable {

  final int vocabSize;
  public volatile int maxModelLength = 256;
  volatile String notReadyReason;
  /** The tokens each request generates, in order, cycling. */
  volatile int[] script;
  /** The end-of-sequence token: ends a request that does not ignore it. */
  volatile int eos;
  public volatile long stepMillis = 1;
  /** Refuse every submission with this, when set. */
  volatile EngineRejectedException reject;
  /** Fail each request with ERROR after this many tokens (negative: never). */
  volatile int failAfter = -1;
  /** How a request ends at {@link #failAfter}. */
  volatile FinishReason failWith = FinishReason.ERROR;

  public final List<GenerationRequest> submitted = new CopyOnWriteArrayList<>();
  final List<String> cancelled = new CopyOnWriteArrayList<>();

  private final ConcurrentLinkedQueue<Running> incoming = new ConcurrentLinkedQueue<>();
  private final List<Running> running = new ArrayList<>();
  private final Thread thread;
  private volatile boolean closed;

  public ScriptedEngine(int vocabSize, int[] script, int eos) {
    this.vocabSize = vocabSize;
    this.script = script;
    this.eos = eos;
    thread = Thread.ofPlatform().daemon().name("scripted-engine").start(this::loop);
  }

  private static final class Running implements GenerationHandle {
    final GenerationRequest request;
    final TokenSink sink;
    final int[] script;
    int produced;
    volatile boolean cancel;

    Running(GenerationRequest request, TokenSink sink, int[] script) {
      this.request = request;
      this.sink = sink;
      this.script = script;
    }

    @Override
    public void cancel() {
      cancel = true;
    }
  }

  @Override
  public String modelId() {
    return "scripted-moe";
  }

  @Override
  public int maxModelLength() {
    return maxModelLength;
  }

  @Override
  public int vocabSize() {
    return vocabSize;
  }

  @Override
  public String notReadyReason() {
    return notReadyReason;
  }

  @Override
  public GenerationHandle submit(GenerationRequest request, TokenSink sink) {
    EngineRejectedException r = reject;
    if (r != null) {
      throw r;
    }
    submitted.add(request);
    Running run = new Running(request, sink, script);
    incoming.add(run);
    return run;
  }

  /** The last request submitted. */
  GenerationRequest last() {
    return submitted.getLast();
  }

  private void loop() {
    while (!closed) {
      try {
        Thread.sleep(Math.max(1, stepMillis));
      } catch (InterruptedException e) {
        return;
      }
      step();
    }
  }

  private void step() {
    for (Running r; (r = incoming.poll()) != null; ) {
      running.add(r);
    }
    for (Iterator<Running> it = running.iterator(); it.hasNext(); ) {
      Running r = it.next();
      if (r.cancel) {
        cancelled.add(r.request.id());
        r.sink.onFinish(FinishReason.CANCELLED, null);
        it.remove();
        continue;
      }
      if (failAfter >= 0 && r.produced == failAfter) {
        r.sink.onFinish(failWith, "scripted failure");
        it.remove();
        continue;
      }
      SamplingParams p = r.request.sampling();
      int token = r.script[r.produced % r.script.length];
      r.produced++;
      r.sink.onToken(token, p.logprobs() == null ? null : logprobs(token, p.logprobs()));
      boolean stopToken = Arrays.stream(p.stopTokenIds()).anyMatch(t -> t == token);
      if ((token == eos && !p.ignoreEos()) || stopToken) {
        r.sink.onFinish(FinishReason.STOP, null);
        it.remove();
      } else if (r.produced == p.maxTokens()) {
        r.sink.onFinish(FinishReason.LENGTH, null);
        it.remove();
      }
    }
  }

  /** Made-up log probabilities: -0.125 for the chosen token, first of the top; the last alternative -inf. */
  static TokenLogprobs logprobs(int token, int top) {
    int[] ids = new int[top];
    float[] values = new float[top];
    for (int i = 0; i < top; i++) {
      ids[i] = (token + i) % 500;
      values[i] = i == top - 1 && top > 1 ? Float.NEGATIVE_INFINITY : -0.125f * (i + 1);
    }
    return new TokenLogprobs(token, -0.125f, ids, values);
  }

  @Override
  public void close() {
    closed = true;
    thread.interrupt();
  }
}

package dev.moe.runtime.scheduler;

import dev.moe.runtime.sampling.Sampler;
import java.util.Arrays;

/**
 * One request as the scheduler tracks it: its tokens (prompt, then what was generated), how many of
 * them are already in the KV cache, its cache blocks, and where its output goes. Fields are
 * touched by the engine's step thread only, except {@link #cancel}.
 */
final class Sequence implements GenerationHandle {

  final GenerationRequest request;
  final Sampler sampler;
  final TokenSink sink;
  /** Prompt and generated tokens can never exceed this: prompt + max_tokens, capped at the model's context. */
  final int limit;
  final long arrivalNanos;
  long lastTokenNanos;
  private int[] tokens;
  private int length;
  /** Tokens whose keys and values are in the cache. */
  int computed;
  int[] blocks;
  /** Steps of this sequence that failed in a row; see {@link Scheduler#failed}. */
  int failures;
  private volatile boolean cancelled;
  boolean finished;

  Sequence(GenerationRequest request, Sampler sampler, TokenSink sink, int limit) {
    this.request = request;
    this.sampler = sampler;
    this.sink = sink;
    this.limit = limit;
    this.arrivalNanos = System.nanoTime();
    int[] prompt = request.prompt();
    this.tokens = Arrays.copyOf(prompt, Math.max(prompt.length, 16));
    this.length = prompt.length;
  }

  @Override
  public void cancel() {
    cancelled = true;
  }

  boolean cancelled() {
    return cancelled;
  }

  int length() {
    return length;
  }

  int token(int i) {
    return tokens[i];
  }

  int generated() {
    return length - request.promptLength();
  }

  /** Whether all known tokens are in the cache, i.e. the next row to run is a new token's. */
  boolean prefilled() {
    return computed == length;
  }

  void append(int token) {
    if (length == tokens.length) {
      tokens = Arrays.copyOf(tokens, Math.min(limit, tokens.length * 2));
    }
    tokens[length++] = token;
  }

  @Override
  public String toString() {
    return "request " + request.id();
  }
}

package dev.moe.runtime.scheduler;

import dev.moe.runtime.sampling.TokenLogprobs;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/** Collects one request's tokens and how it ended (a whole completion, as {@code generate} prints it). */
public final class CollectingSink implements TokenSink {

  private final List<Integer> tokens = new ArrayList<>();
  private final CompletableFuture<FinishReason> finish = new CompletableFuture<>();
  private volatile String message;

  @Override
  public synchronized void onToken(int token, TokenLogprobs logprobs) {
    tokens.add(token);
  }

  @Override
  public void onFinish(FinishReason reason, String message) {
    this.message = message;
    finish.complete(reason);
  }

  /** The tokens so far. */
  public synchronized int[] tokens() {
    return tokens.stream().mapToInt(Integer::intValue).toArray();
  }

  public synchronized int count() {
    return tokens.size();
  }

  /** How the request ended, once it has. */
  public CompletableFuture<FinishReason> finish() {
    return finish;
  }

  /** Why an {@link FinishReason#ERROR} or {@link FinishReason#UNAVAILABLE} happened; null otherwise. */
  public String message() {
    return message;
  }

  /** The whole completion, waiting up to {@code timeout} for it to finish. */
  public int[] await(long timeout, TimeUnit unit) throws InterruptedException, ExecutionException, TimeoutException {
    finish.get(timeout, unit);
    return tokens();
  }
}

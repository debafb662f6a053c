package dev.moe.runtime;

import dev.moe.runtime.sampling.TokenLogprobs;
import dev.moe.runtime.scheduler.Engine;
import dev.moe.runtime.scheduler.FinishReason;
import dev.moe.runtime.scheduler.Scheduler;
import dev.moe.runtime.scheduler.TokenSink;
import dev.moe.runtime.tensor.DType;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** What the serving-engine tests share: engine options for the fixtures and a collecting sink. */
public final class EngineTesting {

  private EngineTesting() {}

  /** A small engine for the fixtures: 2048 cached positions in blocks of 16, steps of 64 tokens. */
  public static Engine.Options options() {
    return new Engine.Options("test-model", DType.F32, 2048, 16, 0, new Scheduler.Limits(64, 16, 64));
  }

  /** Collects one request's tokens. */
  public static final class Collect implements TokenSink {
    public final List<Integer> tokens = Collections.synchronizedList(new ArrayList<>());
    public final CompletableFuture<FinishReason> done = new CompletableFuture<>();
    public volatile String message;

    @Override
    public void onToken(int token, TokenLogprobs logprobs) {
      tokens.add(token);
    }

    @Override
    public void onFinish(FinishReason reason, String message) {
      this.message = message;
      done.complete(reason);
    }

    /** The tokens once the request has finished. */
    public int[] await() throws Exception {
      done.get(120, TimeUnit.SECONDS);
      synchronized (tokens) {
        return tokens.stream().mapToInt(Integer::intValue).toArray();
      }
    }
  }
}

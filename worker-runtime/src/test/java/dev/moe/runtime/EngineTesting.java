package dev.moe.runtime;

import dev.moe.runtime.scheduler.CollectingSink;
import dev.moe.runtime.scheduler.Engine;
import dev.moe.runtime.scheduler.Scheduler;
import dev.moe.runtime.tensor.DType;
import java.util.concurrent.TimeUnit;

/** What the serving-engine tests share: engine options for the fixtures, waiting for a completion. */
public final class EngineTesting {

  private EngineTesting() {}

  /** A small engine for the fixtures: 2048 cached positions in blocks of 16, steps of 64 tokens. */
  public static Engine.Options options() {
    return new Engine.Options("test-model", DType.F32, 2048, 16, 0, new Scheduler.Limits(64, 16, 64));
  }

  /** The completion a sink collected, once it finished (two minutes at most). */
  public static int[] await(CollectingSink sink) throws Exception {
    return sink.await(120, TimeUnit.SECONDS);
  }
}

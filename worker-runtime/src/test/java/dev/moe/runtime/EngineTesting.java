package dev.moe.runtime;

import dev.moe.runtime.scheduler.CollectingSink;
import dev.moe.runtime.scheduler.Engine;
import dev.moe.runtime.scheduler.Scheduler;
import dev.moe.runtime.tensor.DType;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * What the serving-engine tests share: engine options for the fixtures, waiting for a completion,
 * reading the serving gauges of a scrape.
 */
public final class EngineTesting {

  private EngineTesting() {}

  /** A small engine for the fixtures: 2048 cached positions in blocks of 16, steps of 64 tokens. */
  public static Engine.Options options() {
    return options(Engine.DEFAULT_PEER_LOSS_GRACE);
  }

  /** {@link #options()}, with requests waiting at most {@code peerLossGrace} for a lost peer. */
  public static Engine.Options options(Duration peerLossGrace) {
    return new Engine.Options("test-model", DType.F32, 2048, 16, 0, new Scheduler.Limits(64, 16, 64), peerLossGrace);
  }

  /** The completion a sink collected, once it finished (two minutes at most). */
  public static int[] await(CollectingSink sink) throws Exception {
    return sink.await(120, TimeUnit.SECONDS);
  }

  /**
   * The serving gauges of a worker's {@code /metrics} text: requests waiting and running, KV-cache
   * blocks used and in all, and the cache's usage.
   */
  public static List<Double> servingGauges(String scrape) {
    return Stream.of("moe_worker_requests_waiting", "moe_worker_requests_running", "moe_worker_kv_cache_blocks_used",
        "moe_worker_kv_cache_blocks", "moe_worker_kv_cache_usage").map(name -> scrape.lines()
        .filter(l -> l.startsWith(name + " ")).map(l -> Double.parseDouble(l.substring(name.length() + 1)))
        .findFirst().orElseThrow(() -> new AssertionError("no " + name + " in\n" + scrape))).toList();
  }
}

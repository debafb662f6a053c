package dev.moe.runtime.stats;

import io.prometheus.metrics.config.EscapingScheme;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Gauge;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.registry.Collector;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;

/**
 * A worker's Prometheus metrics. Cardinality stays low whatever the traffic: series per layer
 * (routed assignments), per GPU of the group (rows of the last window) and per error code, never
 * per expert or per token. Per-expert counts are in the authenticated statistics instead.
 */
public final class WorkerMetrics {

  private final PrometheusRegistry registry = new PrometheusRegistry();
  private final PrometheusTextFormatWriter writer = PrometheusTextFormatWriter.create();
  private final int gpus;
  private final long windowNanos;

  private final Counter steps;
  private final Histogram stepSeconds;
  private final Histogram stagingStepSeconds;
  private final Counter routed;
  private final Gauge windowRowsSent;
  private final Gauge windowRowsComputed;
  private final Counter dispatchBytes;
  private final Gauge placementVersion;
  private final Gauge stepClock;
  private final Counter switches;
  private final Counter refused;
  private final Counter stagedBytes;
  private final Counter errors;
  private final Gauge requestsWaiting;
  private final Gauge requestsRunning;
  private final Gauge kvCacheUsage;
  private final Gauge kvCacheBlocksUsed;
  private final Gauge kvCacheBlocks;
  private final Counter promptTokens;
  private final Counter generationTokens;
  private final Counter requestsFinished;
  private final Histogram timeToFirstToken;
  private final Histogram timePerOutputToken;

  private final long[] windowSent;
  private long windowComputed;
  private long windowStart = System.nanoTime();

  /**
   * @param gpus the group's size
   * @param windowSeconds the length of the window whose per-GPU rows the gauges show
   */
  public WorkerMetrics(int rank, int gpus, double windowSeconds) {
    this.gpus = gpus;
    this.windowNanos = (long) (windowSeconds * 1e9);
    this.windowSent = new long[gpus];
    steps = register(Counter.builder().name("moe_worker_steps")
        .help("Steps this worker finished (its share of each step's tokens)").build());
    stepSeconds = register(Histogram.builder().name("moe_worker_step_seconds").classicOnly()
        .help("Time from a step's arrival to its reply, on this worker").build());
    stagingStepSeconds = register(Histogram.builder().name("moe_worker_staging_step_seconds").classicOnly()
        .help("Step times while a placement was being staged: the stall a switch causes").build());
    routed = register(Counter.builder().name("moe_worker_routed_assignments")
        .help("(token, choice) assignments this worker routed, per layer").labelNames("layer").build());
    windowRowsSent = register(Gauge.builder().name("moe_worker_window_rows")
        .help("Rows this worker dispatched to each GPU of the group in the last window").labelNames("gpu").build());
    windowRowsComputed = register(Gauge.builder().name("moe_worker_window_rows_computed")
        .help("Rows this worker's expert slots computed in the last window: its GPU's load").build());
    dispatchBytes = register(Counter.builder().name("moe_worker_dispatch_bytes")
        .help("Activation bytes sent to and received from peers for expert compute")
        .labelNames("direction").build());
    placementVersion = register(Gauge.builder().name("moe_worker_placement_version")
        .help("The placement version this worker serves new steps with").build());
    stepClock = register(Gauge.builder().name("moe_worker_step_clock")
        .help("1 while this worker runs the group's step clock (the lowest connected rank), else 0").build());
    switches = register(Counter.builder().name("moe_worker_placement_switches")
        .help("Placement versions this worker switched to").build());
    refused = register(Counter.builder().name("moe_worker_placement_refused")
        .help("Placement versions this worker refused (invalid, or a checksum mismatch)").build());
    stagedBytes = register(Counter.builder().name("moe_worker_staged_bytes")
        .help("Expert weight bytes staged for new placement versions").build());
    errors = register(Counter.builder().name("moe_worker_request_errors")
        .help("Requests answered with an error, by code").labelNames("code").build());
    requestsWaiting = register(Gauge.builder().name("moe_worker_requests_waiting")
        .help("Requests queued on this worker, waiting for KV-cache room (a scaling signal)").build());
    requestsRunning = register(Gauge.builder().name("moe_worker_requests_running")
        .help("Requests this worker is generating for").build());
    kvCacheUsage = register(Gauge.builder().name("moe_worker_kv_cache_usage")
        .help("Fraction of this worker's KV-cache blocks held by requests (0..1)").build());
    kvCacheBlocksUsed = register(Gauge.builder().name("moe_worker_kv_cache_blocks_used")
        .help("KV-cache blocks held by the requests running on this worker").build());
    kvCacheBlocks = register(Gauge.builder().name("moe_worker_kv_cache_blocks")
        .help("KV-cache blocks this worker has").build());
    promptTokens = register(Counter.builder().name("moe_worker_prompt_tokens")
        .help("Prompt tokens of the requests this worker admitted").build());
    generationTokens = register(Counter.builder().name("moe_worker_generation_tokens")
        .help("Tokens this worker generated").build());
    requestsFinished = register(Counter.builder().name("moe_worker_requests_finished")
        .help("Requests that ended on this worker, by reason").labelNames("reason").build());
    timeToFirstToken = register(Histogram.builder().name("moe_worker_time_to_first_token_seconds").classicOnly()
        .classicUpperBounds(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
        .help("From a request's arrival to its first generated token").build());
    timePerOutputToken = register(Histogram.builder().name("moe_worker_time_per_output_token_seconds").classicOnly()
        .classicUpperBounds(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5)
        .help("Between consecutive generated tokens of a request").build());
    for (String reason : new String[] {"stop", "length", "cancelled", "error"}) {
      requestsFinished.labelValues(reason);
    }
    for (int g = 0; g < gpus; g++) {
      windowRowsSent.labelValues(Integer.toString(g)).set(0);
    }
    dispatchBytes.labelValues("sent");
    dispatchBytes.labelValues("received");
    placementVersion.set(0);
    stepClock.set(0);
    windowRowsComputed.set(0);
    register(Gauge.builder().name("moe_worker_rank").help("This worker's rank: its GPU in the placement").build())
        .set(rank);
  }

  private <M extends Collector> M register(M metric) {
    registry.register(metric);
    return metric;
  }

  public void stepDone(double seconds, boolean staging) {
    steps.inc();
    stepSeconds.observe(seconds);
    if (staging) {
      stagingStepSeconds.observe(seconds);
    }
  }

  public void routed(int layer, long assignments) {
    routed.labelValues(Integer.toString(layer)).inc(assignments);
  }

  /** Rows of one layer dispatched by this worker, per destination GPU. */
  public synchronized void dispatched(long[] rowsPerGpu, long bytesSent) {
    roll(System.nanoTime());
    for (int g = 0; g < gpus; g++) {
      windowSent[g] += rowsPerGpu[g];
    }
    dispatchBytes.labelValues("sent").inc(bytesSent);
  }

  /** Rows computed on this worker's slots, {@code bytesReceived} of them from peers. */
  public synchronized void computed(long rows, long bytesReceived) {
    roll(System.nanoTime());
    windowComputed += rows;
    dispatchBytes.labelValues("received").inc(bytesReceived);
  }

  public void placementInstalled(long version) {
    placementVersion.set(version);
  }

  public void placementSwitched(long version) {
    placementVersion.set(version);
    switches.inc();
  }

  public void stepClock(boolean running) {
    stepClock.set(running ? 1 : 0);
  }

  public void placementRefused() {
    refused.inc();
  }

  public void staged(long bytes) {
    stagedBytes.inc(bytes);
  }

  public void error(String code) {
    errors.labelValues(code).inc();
  }

  /** The engine's queue and KV cache. */
  public void engineState(int waiting, int running, int blocksUsed, int blocks) {
    requestsWaiting.set(waiting);
    requestsRunning.set(running);
    kvCacheBlocksUsed.set(blocksUsed);
    kvCacheBlocks.set(blocks);
    kvCacheUsage.set((double) blocksUsed / blocks);
  }

  public void promptAdmitted(int tokens) {
    promptTokens.inc(tokens);
  }

  /** A generated token; {@code first} with the time since arrival, else since the previous token. */
  public void tokenGenerated(boolean first, double seconds) {
    generationTokens.inc();
    (first ? timeToFirstToken : timePerOutputToken).observe(seconds);
  }

  /** A request ended, {@code reason} one of stop, length, cancelled, error. */
  public void requestFinished(String reason) {
    requestsFinished.labelValues(reason).inc();
  }

  /** The Prometheus text exposition of every metric. */
  public byte[] scrape() {
    synchronized (this) {
      roll(System.nanoTime());
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try {
      writer.write(out, registry.scrape(), EscapingScheme.UNDERSCORE_ESCAPING);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toByteArray();
  }

  public String contentType() {
    return writer.getContentType();
  }

  /** Publishes the finished window; a window with no traffic publishes zeros. */
  private void roll(long now) {
    if (now - windowStart < windowNanos) {
      return;
    }
    boolean skipped = now - windowStart >= 2 * windowNanos;
    for (int g = 0; g < gpus; g++) {
      windowRowsSent.labelValues(Integer.toString(g)).set(skipped ? 0 : windowSent[g]);
      windowSent[g] = 0;
    }
    windowRowsComputed.set(skipped ? 0 : windowComputed);
    windowComputed = 0;
    windowStart = now;
  }
}

package dev.moe.localcluster.demo;

import dev.moe.runtime.parallel.Message.WorkerStatus;
import dev.moe.runtime.parallel.WorkerGroup;
import dev.moe.runtime.replay.TraceGenerator;
import dev.moe.stats.RoutingStats;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Consumer;
import java.util.function.BooleanSupplier;
import java.util.function.DoublePredicate;

/**
 * Real traffic for the demo's workers: it plays the serving engine's scheduler, sending batches
 * through the workers' transport, each token's experts drawn from measured routing statistics of
 * one phase after another (decode, then prefill: the shift). The workers count that routing as
 * they would a model's own, which is what the operator reads from their {@code /stats}.
 *
 * <p>It also does the engine's half of a placement switch: the operator stages a new version on
 * every worker ({@code POST /placement}); once all of them hold it, new steps carry it.
 */
public final class TrafficReplay implements AutoCloseable {

  /** One phase of traffic: routing drawn from {@code stats} until {@code over}, given the seconds it has run. */
  public record Phase(String name, RoutingStats stats, DoublePredicate over) {}

  /**
   * One step as measured.
   *
   * @param slowestWorkerMs the CPU time of the slowest worker's expert kernels: with more workers
   *     than cores, wall time hides the imbalance, this does not (see ReplayRunner)
   * @param maxMeanRows the most rows one worker computed over the mean: the step's own imbalance
   */
  public record StepRecord(double atSeconds, String phase, long version, double wallMs, double slowestWorkerMs,
      double maxMeanRows) {}

  private static final Duration ADOPT_CHECK = Duration.ofMillis(500);

  private final WorkerGroup group;
  private final int hidden;
  private final int[] layers;
  private final int topK;
  private final int tokensPerStep;
  private final long seed;

  /**
   * @param workers every worker's transport address, in rank order
   * @param layers the model's MoE layers; row {@code l} of the statistics drives model layer {@code l}
   */
  public TrafficReplay(List<InetSocketAddress> workers, int hidden, int[] layers, int topK, int tokensPerStep,
      long seed) {
    this.group = WorkerGroup.connect(workers, hidden, Duration.ofSeconds(30));
    this.hidden = hidden;
    this.layers = layers.clone();
    this.topK = topK;
    this.tokensPerStep = tokensPerStep;
    this.seed = seed;
  }

  /**
   * Plays the phases one after the other, calling {@code sink} after every step, until they are
   * over or {@code stop} says so. Steps are timed from {@code originNanos} ({@link System#nanoTime()}).
   */
  public void run(long originNanos, List<Phase> phases, Consumer<StepRecord> sink, BooleanSupplier stop) {
    long nextAdoptCheck = System.nanoTime();
    SplittableRandom random = new SplittableRandom(seed);
    float[] x = new float[tokensPerStep * hidden];
    int[][] ids = new int[layers.length][tokensPerStep * topK];
    float[][] weights = new float[layers.length][tokensPerStep * topK];
    for (int p = 0; p < phases.size() && !stop.getAsBoolean(); p++) {
      Phase phase = phases.get(p);
      TraceGenerator trace = new TraceGenerator(phase.stats(), layers, topK, seed + p);
      long phaseStart = System.nanoTime();
      while (!phase.over().test((System.nanoTime() - phaseStart) / 1e9) && !stop.getAsBoolean()) {
        if (System.nanoTime() >= nextAdoptCheck) {
          adoptStagedVersion();
          nextAdoptCheck = System.nanoTime() + ADOPT_CHECK.toNanos();
        }
        for (int i = 0; i < x.length; i++) {
          x[i] = (float) random.nextGaussian();
        }
        for (int l = 0; l < layers.length; l++) {
          trace.draw(l, tokensPerStep, ids[l], weights[l]);
        }
        WorkerGroup.StepOutput out = group.step(x, tokensPerStep, layers, topK, ids, weights).join();
        double slowest = Arrays.stream(out.cpuNanosPerWorker()).max().orElse(0) / 1e6;
        double mean = Arrays.stream(out.rowsPerWorker()).average().orElse(0);
        double max = Arrays.stream(out.rowsPerWorker()).max().orElse(0);
        sink.accept(new StepRecord((System.nanoTime() - originNanos) / 1e9, phase.name(), out.version(),
            out.nanos() / 1e6, slowest, mean == 0 ? 1 : max / mean));
      }
    }
  }

  /** Waits until every worker has staged {@code version} (the rollout's weights are in place), then serves it. */
  public void awaitVersion(long version, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (group.activeVersion() < version) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("the workers did not stage placement version " + version + " within "
            + timeout.toSeconds() + " s");
      }
      adoptStagedVersion();
      try {
        Thread.sleep(ADOPT_CHECK);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted", e);
      }
    }
  }

  /** Switches new steps to the newest version every worker has staged, if newer than the active one. */
  private void adoptStagedVersion() {
    List<WorkerStatus> status = group.status();
    long common = Long.MAX_VALUE;
    for (WorkerStatus s : status) {
      common = Math.min(common, Arrays.stream(s.staged()).max().orElse(0));
    }
    if (common > group.activeVersion() && common != Long.MAX_VALUE) {
      long version = common;
      if (status.stream().allMatch(s -> Arrays.stream(s.staged()).anyMatch(v -> v == version))) {
        group.adopt(version).join();
      }
    }
  }

  @Override
  public void close() {
    group.close();
  }
}

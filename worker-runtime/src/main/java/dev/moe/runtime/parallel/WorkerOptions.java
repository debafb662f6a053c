package dev.moe.runtime.parallel;

import dev.moe.runtime.nativelib.BackendChoice;
import dev.moe.runtime.tensor.DType;

/**
 * How a worker runs.
 *
 * @param backend CPU, CUDA, or AUTO (CUDA when a device is usable)
 * @param threads CPU threads of the backend ({@code <= 0}: one per core); on CUDA the device
 * @param weightDtype how expert slots store weights: F32 or BF16
 * @param maxTokens the most tokens one step may give this worker
 * @param maxRows the most rows one dispatch may ask this worker to compute
 * @param statsSampleEvery 1 in this many tokens feeds the transition statistics
 * @param metricsWindowSeconds the window of the per-GPU load gauges
 * @param idleMillis with no step for this long, staging a new placement proceeds without waiting
 *     for a step boundary
 */
public record WorkerOptions(BackendChoice backend, int threads, DType weightDtype, int maxTokens, int maxRows,
    int statsSampleEvery, double metricsWindowSeconds, long idleMillis) {

  public WorkerOptions {
    if (weightDtype != DType.F32 && weightDtype != DType.BF16) {
      throw new IllegalArgumentException("expert weights are stored as F32 or BF16, not " + weightDtype);
    }
    if (maxTokens < 1 || maxRows < 1 || statsSampleEvery < 1 || !(metricsWindowSeconds > 0) || idleMillis < 1) {
      throw new IllegalArgumentException("max tokens, max rows, stats sampling, metrics window and idle time must be"
          + " positive");
    }
  }

  /** CPU, one thread (several workers share a machine in tests), f32 weights. */
  public static WorkerOptions defaults() {
    return new WorkerOptions(BackendChoice.CPU, 1, DType.F32, 1 << 16, 1 << 20, 1, 10.0, 20);
  }

  public WorkerOptions withBackend(BackendChoice choice, int newThreads) {
    return new WorkerOptions(choice, newThreads, weightDtype, maxTokens, maxRows, statsSampleEvery,
        metricsWindowSeconds, idleMillis);
  }

  public WorkerOptions withWeightDtype(DType dtype) {
    return new WorkerOptions(backend, threads, dtype, maxTokens, maxRows, statsSampleEvery, metricsWindowSeconds,
        idleMillis);
  }

  public WorkerOptions withLimits(int newMaxTokens, int newMaxRows) {
    return new WorkerOptions(backend, threads, weightDtype, newMaxTokens, newMaxRows, statsSampleEvery,
        metricsWindowSeconds, idleMillis);
  }
}

package dev.moe.runtime.rebalance;

import java.util.concurrent.TimeUnit;

/**
 * Bounds how many bytes of weights a worker stages between two step boundaries, so that a
 * placement change stalls no step by more than the time those bytes take. Each finished step
 * grants a fresh budget (unused budget does not pile up); when no step has run for {@code idle},
 * the budget renews itself, so that staging does not wait for traffic.
 */
public final class StepBudget {

  private final long bytesPerStep;
  private final long idleNanos;
  private long available;
  private int running;
  private long lastGrant = System.nanoTime();

  public StepBudget(long bytesPerStep, long idle, TimeUnit unit) {
    if (bytesPerStep < 1) {
      throw new IllegalArgumentException("the staging budget must be at least 1 byte per step, got " + bytesPerStep);
    }
    this.bytesPerStep = bytesPerStep;
    this.idleNanos = unit.toNanos(idle);
    this.available = bytesPerStep;
  }

  public synchronized void stepStarted() {
    running++;
  }

  /** A step boundary: the next step's budget. */
  public synchronized void stepDone() {
    running = Math.max(0, running - 1);
    available = bytesPerStep;
    lastGrant = System.nanoTime();
    notifyAll();
  }

  /**
   * Waits until {@code bytes} may be staged and takes them. A transfer bigger than a whole step's
   * budget takes one whole budget: it cannot be split, and must not wait forever.
   */
  public synchronized void take(long bytes) throws InterruptedException {
    long need = Math.min(bytes, bytesPerStep);
    while (available < need) {
      long idleFor = System.nanoTime() - lastGrant;
      if (running == 0 && idleFor >= idleNanos) {
        available = bytesPerStep;
        lastGrant = System.nanoTime();
        break;
      }
      TimeUnit.NANOSECONDS.timedWait(this, Math.max(idleNanos - idleFor, idleNanos / 4 + 1));
    }
    available -= need;
  }
}

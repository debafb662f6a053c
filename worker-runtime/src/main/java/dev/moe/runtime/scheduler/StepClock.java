package dev.moe.runtime.scheduler;

import dev.moe.runtime.parallel.Message.Ack;
import dev.moe.runtime.parallel.Message.Release;
import dev.moe.runtime.parallel.Message.StatusRequest;
import dev.moe.runtime.parallel.Message.StepBegin;
import dev.moe.runtime.parallel.Message.StepEnd;
import dev.moe.runtime.parallel.Message.WorkerStatus;
import dev.moe.runtime.parallel.WorkerNode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;

/**
 * The group's step clock: every step it tells every rank to run its own batch (an empty one when it
 * has nothing), waits until all have, and starts the next while any has work. Every rank keeps one,
 * but only the lowest connected rank's runs ({@link WorkerNode#clockRank}): rank 0 while it is
 * there; when it is lost the next rank takes over on the group's active version, and hands back
 * when rank 0 returns (ranks refuse steps from any clock but their lowest connected rank's).
 * Placement versions switch here, at a step boundary: once every rank reports a newer version
 * staged, the next step carries it, and after that step the old version is released everywhere.
 * While the group is idle the clock sleeps until a rank wakes it, polling the ranks' staged
 * versions now and then so that a posted placement is adopted without traffic too. While a peer
 * that the served version gives tokens to is lost (restarting) no step starts; steps that failed on
 * a rank run again once it is back, or once a version that leaves it out (a survivors' plan, which
 * the connected ranks stage meanwhile) serves. A lost peer that the version leaves out is skipped.
 */
final class StepClock implements AutoCloseable {

  private static final Logger LOG = Logger.getLogger(StepClock.class.getName());

  /** How long an idle clock sleeps before polling the ranks' staged versions. */
  static final Duration IDLE_POLL = Duration.ofMillis(100);
  /** Idle polls between two empty steps. */
  static final int IDLE_STEP_EVERY = 10;
  /** How often a clock that cannot step (a peer it needs is lost) looks again. */
  static final Duration LOST_PEER_POLL = Duration.ofMillis(50);
  /** A rank that has not answered a step within this is treated as failed for that step. */
  static final Duration RANK_TIMEOUT = Duration.ofSeconds(150);

  private final WorkerNode node;
  private final int size;
  private final Object signal = new Object();
  private boolean woken;
  private volatile boolean closed;
  private volatile boolean running;
  private Thread thread;

  StepClock(WorkerNode node) {
    this.node = node;
    this.size = node.size();
  }

  /** Whether this rank's clock starts the group's steps now. */
  boolean running() {
    return running;
  }

  void start() {
    thread = Thread.ofPlatform().daemon().name("worker-" + node.rank() + "-step-clock").start(this::run);
  }

  /** Requests arrived somewhere in the group: start stepping. */
  void wake() {
    synchronized (signal) {
      woken = true;
      signal.notifyAll();
    }
  }

  private void run() {
    long active = 0;
    long step = 0;
    boolean work = true;
    long[][] staged = new long[size][];
    long idlePolls = 0;
    while (!closed) {
      int holder = node.clockRank();
      if (holder != node.rank()) {
        if (running) {
          LOG.info("worker " + node.rank() + " hands the step clock back to worker " + holder);
          setRunning(false);
        }
        awaitWake();
        continue;
      }
      if (!running) {
        // Taking over (or starting): from the version the group serves, and with a step for any work.
        active = pollStaged(staged);
        work = true;
        setRunning(true);
        if (holder > 0) {
          LOG.warning("worker " + node.rank() + " runs the group's step clock on placement version " + active
              + ": workers below it are lost");
        }
      }
      long target = commonNewest(staged, active);
      if (target == active && !node.missingPeers(active).isEmpty()) {
        // Waiting for the lost peer, or for a version without it staged by the others.
        pollStaged(staged);
        pause(LOST_PEER_POLL.toMillis());
        work = true;  // steps that failed meanwhile run again
        continue;
      }
      if (!work && target <= active) {
        boolean woken = awaitWake();
        if (!woken) {
          pollStaged(staged);
        }
        // Now and then a step anyway: it learns of work whose wake-up was lost (its rank was away).
        work = woken || ++idlePolls % IDLE_STEP_EVERY == 0;
        continue;
      }
      long version = Math.max(active, target);
      StepBegin begin = new StepBegin(++step, version, node.rank());
      List<CompletableFuture<StepEnd>> ends = new ArrayList<>();
      for (int r = 0; r < size; r++) {
        // A lost rank's requests were lost with it; the version serves without it (see missingPeers).
        ends.add(node.connected(r)
            ? node.request(r, begin, StepEnd.class).orTimeout(RANK_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS) : null);
      }
      work = false;
      boolean allDone = true;
      for (int r = 0; r < size; r++) {
        if (ends.get(r) == null) {
          staged[r] = null;
          continue;
        }
        try {
          StepEnd end = ends.get(r).join();
          work |= end.busy() || !end.failure().isEmpty();
          staged[r] = end.staged();
        } catch (RuntimeException e) {
          allDone = false;
          work = true;
          LOG.warning("step " + step + " on worker " + r + ": " + e.getMessage());
        }
      }
      if (!allDone) {
        pause(50);
      } else if (version != active) {
        release(active);
        LOG.info("placement version " + version + " serves from step " + step + " (was " + active + ")");
        active = version;
      }
    }
  }

  /**
   * The newest version every connected rank has staged and no lost rank serves in, or {@code
   * active} when there is none newer.
   */
  private long commonNewest(long[][] staged, long active) {
    long best = active;
    int self = node.rank();
    if (staged[self] == null) {
      return best;
    }
    for (long v : staged[self]) {
      if (v <= best) {
        continue;
      }
      boolean everywhere = true;
      for (int r = 0; r < size && everywhere; r++) {
        everywhere = !node.connected(r) || staged[r] != null && Arrays.stream(staged[r]).anyMatch(x -> x == v);
      }
      if (everywhere && node.missingPeers(v).isEmpty()) {
        best = v;
      }
    }
    return best;
  }

  /**
   * Polls every rank's staged versions into {@code staged}; returns the newest version any connected
   * rank serves (this one's at least): a clock taking over from a lost rank goes on from there.
   */
  private long pollStaged(long[][] staged) {
    long active = node.activeVersion();
    for (int r = 0; r < size; r++) {
      try {
        WorkerStatus s = node.request(r, new StatusRequest(), WorkerStatus.class).get(2, TimeUnit.SECONDS);
        staged[r] = s.staged();
        active = Math.max(active, s.activeVersion());
      } catch (Exception e) {
        staged[r] = null;
      }
    }
    return active;
  }

  private void setRunning(boolean now) {
    running = now;
    node.metrics().stepClock(now);
  }

  /** Tells every rank that no step of {@code version} runs any more. */
  private void release(long version) {
    for (int r = 0; r < size; r++) {
      int rank = r;
      node.request(r, new Release(version), Ack.class).whenComplete((ack, t) -> {
        if (t != null) {
          LOG.fine("releasing placement version " + version + " on worker " + rank + ": " + t.getMessage());
        }
      });
    }
  }

  /** Sleeps until woken or {@link #IDLE_POLL} passes; true when woken. */
  private boolean awaitWake() {
    synchronized (signal) {
      if (!woken && !closed) {
        try {
          signal.wait(IDLE_POLL.toMillis());
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          closed = true;
        }
      }
      boolean w = woken;
      woken = false;
      return w;
    }
  }

  private void pause(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      closed = true;
    }
  }

  @Override
  public void close() {
    closed = true;
    wake();
    if (thread != null) {
      try {
        thread.join(5000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }
}

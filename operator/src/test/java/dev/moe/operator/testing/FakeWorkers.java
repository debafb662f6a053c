package dev.moe.operator.testing;

import dev.moe.crds.v1alpha1.MoEModel;
import dev.moe.operator.rollout.RolloutException;
import dev.moe.operator.rollout.WorkerPlacements;
import dev.moe.operator.rollout.WorkerVersions;
import dev.moe.operator.serving.ApiProbe;
import dev.moe.placement.Placement;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Stands in for the workers' {@code /placement} and API as the worker runtime behaves: each worker
 * starts on version 0, stages a posted version that is newer than any it has seen (refusing an
 * older one), and the group switches to the newest version every worker holds, freeing the older
 * ones; a worker that holds the group's version serves it too. The group's clock ticks whenever
 * the operator looks. A test can cut the workers off, stall a worker's staging, restart a worker
 * or take its API down.
 */
public final class FakeWorkers implements WorkerPlacements, ApiProbe {

  /** One worker's versions, as the runtime's SlotVersions keeps them. */
  private static final class Worker {
    long active;
    long highest;
    Long staging;
    final TreeSet<Long> held = new TreeSet<>(Set.of(0L));
    boolean stalled;
    boolean apiDown;

    WorkerVersions report() {
      return new WorkerVersions(active, staging, List.copyOf(held), Map.of());
    }
  }

  private final Map<String, Map<Integer, Worker>> models = new ConcurrentHashMap<>();
  private record Post(String model, int worker, long revision) {}

  private final List<Post> posts = new CopyOnWriteArrayList<>();
  private final AtomicBoolean reachable = new AtomicBoolean(true);

  /** While false, no worker's {@code /placement} can be reached (their API still answers): a rollout stays in progress. */
  public void reachable(boolean value) {
    reachable.set(value);
  }

  /** While stalled, worker {@code w} stages what it is given but never finishes. */
  public synchronized void stall(String ns, String model, int w, boolean stalled) {
    Worker worker = worker(ns, model, w);
    worker.stalled = stalled;
    if (!stalled && worker.staging != null) {
      worker.held.add(worker.staging);
      worker.staging = null;
    }
  }

  /** Worker {@code w}'s process restarted on the default placement, version 0, not hearing from its peers. */
  public synchronized void restart(String ns, String model, int w) {
    group(ns, model).put(w, new Worker());
  }

  public synchronized void apiDown(String ns, String model, int w, boolean down) {
    worker(ns, model, w).apiDown = down;
  }

  /** The revisions posted to one model's workers, each once, in the order first posted. */
  public List<Long> published(String ns, String model) {
    return posts(ns, model).stream().map(Post::revision).distinct().toList();
  }

  /** How often revision {@code revision} was posted to worker {@code w}. */
  public long posts(String ns, String model, int w, long revision) {
    return posts(ns, model).stream().filter(p -> p.worker() == w && p.revision() == revision).count();
  }

  /** What worker {@code w} reports now. */
  public synchronized WorkerVersions report(String ns, String model, int w) {
    return worker(ns, model, w).report();
  }

  @Override
  public synchronized Map<Integer, WorkerVersions> read(MoEModel model, Set<Integer> workers) {
    Map<Integer, WorkerVersions> reports = new HashMap<>();
    if (!reachable.get()) {
      return reports;
    }
    tick(group(model), workers);
    for (int w : workers) {
      reports.put(w, worker(model, w).report());
    }
    return reports;
  }

  @Override
  public synchronized Set<Integer> stage(MoEModel model, long revision, Placement placement, Set<Integer> workers) {
    if (!reachable.get()) {
      return Set.copyOf(workers);
    }
    Set<Integer> notTaken = new TreeSet<>();
    for (int w : workers) {
      Worker worker = worker(model, w);
      if (worker.held.contains(revision) || Long.valueOf(revision).equals(worker.staging)) {
        continue;
      }
      if (worker.staging != null) {
        notTaken.add(w);
        continue;
      }
      if (revision <= worker.highest) {
        throw new RolloutException("worker " + w + " refused revision " + revision + ": placement version " + revision
            + " is not newer than version " + worker.highest + ", the newest this worker has seen");
      }
      posts.add(new Post(key(model), w, revision));
      worker.highest = revision;
      if (worker.stalled) {
        worker.staging = revision;
      } else {
        worker.held.add(revision);
      }
    }
    return notTaken;
  }

  @Override
  public synchronized Map<Integer, String> unanswered(MoEModel model, Set<Integer> workers) {
    Map<Integer, String> down = new TreeMap<>();
    for (int w : workers) {
      if (worker(model, w).apiDown) {
        down.put(w, "unreachable: connection refused");
      }
    }
    return down;
  }

  /** The group's step clock: switch to the newest version all hold; a worker holding the served one serves it. */
  private static void tick(Map<Integer, Worker> group, Set<Integer> workers) {
    if (workers.isEmpty()) {
      return;
    }
    long served = workers.stream().mapToLong(w -> group.get(w).active).max().orElse(0);
    long newest = served;
    for (long v : group.get(workers.iterator().next()).held) {
      if (v > newest && workers.stream().allMatch(w -> group.get(w).held.contains(v))) {
        newest = v;
      }
    }
    for (int w : workers) {
      Worker worker = group.get(w);
      if (worker.held.contains(newest)) {
        worker.active = newest;
        long active = newest;
        worker.held.removeIf(v -> v < active);
      }
    }
  }

  private List<Post> posts(String ns, String model) {
    return posts.stream().filter(p -> p.model().equals(ns + "/" + model)).toList();
  }

  private Map<Integer, Worker> group(String ns, String model) {
    return models.computeIfAbsent(ns + "/" + model, k -> new ConcurrentHashMap<>());
  }

  private Map<Integer, Worker> group(MoEModel model) {
    return group(model.getMetadata().getNamespace(), model.getMetadata().getName());
  }

  private Worker worker(String ns, String model, int w) {
    return group(ns, model).computeIfAbsent(w, k -> new Worker());
  }

  private Worker worker(MoEModel model, int w) {
    return worker(model.getMetadata().getNamespace(), model.getMetadata().getName(), w);
  }

  private static String key(MoEModel model) {
    return model.getMetadata().getNamespace() + "/" + model.getMetadata().getName();
  }
}

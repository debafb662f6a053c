package dev.moe.runtime.rebalance;

import dev.moe.runtime.nativelib.BackendThread;
import dev.moe.runtime.nativelib.ExpertBank;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import java.util.function.IntPredicate;
import java.util.function.LongConsumer;
import java.util.function.Supplier;
import java.util.logging.Logger;

/**
 * Builds a worker's next placement version beside the one it serves ("shadow" banks), slot by
 * slot, within a byte budget per step, and verifies every moved slot.
 *
 * <p>Per MoE layer: when this worker's experts of the layer are the same, the new version shares
 * the served bank. Otherwise a new bank is filled: an expert this worker already holds is copied
 * locally; one it lacks is fetched from a worker holding it in the served version and imported,
 * then the checksum of what the new bank holds ({@code moe_experts_checksum}, computed by the
 * backend) must equal the sender's checksum of its copy, or the whole version is refused. Only
 * when no peer can send an expert is it read from the checkpoint.
 *
 * <p>Every bank call runs on {@code compute}, the backend's one thread, between the steps' work.
 */
public final class Stager {

  private static final Logger LOG = Logger.getLogger(Stager.class.getName());

  private final int rank;
  private final SlotTable target;
  private final PlacementVersion source;
  private final IntPredicate isMoeLayer;
  private final Supplier<ExpertBank> newBank;
  private final ExpertLoader loader;
  private final SlotFetcher fetcher;
  private final StepBudget budget;
  private final Executor compute;
  private final LongConsumer stagedBytes;
  private final List<ExpertBank> created = new ArrayList<>();

  private Stager(int rank, SlotTable target, PlacementVersion source, IntPredicate isMoeLayer,
      Supplier<ExpertBank> newBank, ExpertLoader loader, SlotFetcher fetcher, StepBudget budget, Executor compute,
      LongConsumer stagedBytes) {
    this.rank = rank;
    this.target = target;
    this.source = source;
    this.isMoeLayer = isMoeLayer;
    this.newBank = newBank;
    this.loader = loader;
    this.fetcher = fetcher;
    this.budget = budget;
    this.compute = compute;
    this.stagedBytes = stagedBytes;
  }

  /**
   * Loads a first version from the checkpoint, without budget (nothing is served yet).
   *
   * @param newBank makes an empty bank of the version's slots per GPU (called on {@code compute})
   */
  public static PlacementVersion load(SlotTable target, int layers, IntPredicate isMoeLayer,
      Supplier<ExpertBank> newBank, ExpertLoader loader, Executor compute) {
    Stager s = new Stager(-1, target, null, isMoeLayer, newBank, loader, null, null, compute, b -> {});
    try {
      return s.build(layers);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      s.closeCreated();
      throw new IllegalStateException("interrupted while loading the experts", e);
    } catch (RuntimeException e) {
      s.closeCreated();
      throw e;
    }
  }

  /**
   * Stages {@code target} next to {@code source} (which the caller keeps alive meanwhile) on a
   * thread of its own; completes with the new version, or with a {@link PlacementRefusedException}.
   */
  public static CompletableFuture<PlacementVersion> stage(int rank, SlotTable target, PlacementVersion source,
      int layers, IntPredicate isMoeLayer, Supplier<ExpertBank> newBank, ExpertLoader loader, SlotFetcher fetcher,
      StepBudget budget, Executor compute, LongConsumer stagedBytes) {
    Stager s = new Stager(rank, target, source, isMoeLayer, newBank, loader, fetcher, budget, compute, stagedBytes);
    CompletableFuture<PlacementVersion> result = new CompletableFuture<>();
    Thread thread = new Thread(() -> {
      try {
        result.complete(s.build(layers));
      } catch (Throwable t) {
        s.closeCreated();
        result.completeExceptionally(t instanceof PlacementRefusedException ? t
            : new PlacementRefusedException("staging placement version " + target.version() + " failed: " + describe(t), t));
      }
    }, "stage-v" + target.version() + "-w" + rank);
    thread.setDaemon(true);
    thread.start();
    return result;
  }

  private PlacementVersion build(int layers) throws InterruptedException {
    ExpertBank[] banks = new ExpertBank[layers];
    for (int l = 0; l < layers; l++) {
      if (!isMoeLayer.test(l)) {
        continue;
      }
      int[] experts = target.localExperts(l);
      if (source != null && Arrays.equals(experts, source.table().localExperts(l))) {
        banks[l] = source.bank(l);
        continue;
      }
      ExpertBank bank = onCompute(newBank::get);
      created.add(bank);
      banks[l] = bank;
      if (source == null) {
        int layer = l;
        for (int slot = 0; slot < experts.length; slot++) {
          int s = slot;
          onCompute(() -> {
            bank.load(s, loader.load(layer, experts[s]));
            return null;
          });
        }
      } else {
        keepHeld(l, bank, experts);
        for (int slot = 0; slot < experts.length; slot++) {
          if (indexOf(source.table().localExperts(l), experts[slot]) < 0) {
            budget.take(bank.slotBytes());
            fetchFromPeer(l, bank, slot, experts[slot]);
            stagedBytes.accept(bank.slotBytes());
          }
        }
      }
    }
    return new PlacementVersion(target, banks);
  }

  /**
   * The slots of a changed layer whose experts this worker already holds, copied from the served
   * bank inside the backend's memory, all at once: a memory copy, so neither budgeted nor verified
   * (no transfer to check).
   */
  private void keepHeld(int layer, ExpertBank bank, int[] experts) {
    int[] held = source.table().localExperts(layer);
    ExpertBank from = source.bank(layer);
    onCompute(() -> {
      for (int slot = 0; slot < experts.length; slot++) {
        int at = indexOf(held, experts[slot]);
        if (at >= 0) {
          bank.copySlot(slot, from, at);
        }
      }
      return null;
    });
  }

  /** From a worker that holds the expert; the checkpoint only when none can send it. */
  private void fetchFromPeer(int layer, ExpertBank bank, int slot, int expert) {
    int[] replicas = source.table().replicas(layer, expert);
    List<String> failures = new ArrayList<>();
    // Spread the fetches of one expert's new replicas over its holders.
    for (int attempt = 0; attempt < replicas.length; attempt++) {
      int worker = source.table().ownerOf(replicas[(rank + slot + attempt) % replicas.length]);
      if (worker == rank) {
        continue;
      }
      SlotFetcher.Copy copy;
      try {
        copy = fetcher.fetch(worker, source.version(), layer, expert).join();
      } catch (CompletionException e) {
        failures.add("worker " + worker + ": " + describe(e.getCause()));
        continue;
      }
      onCompute(() -> {
        bank.importSlot(slot, copy.bytes());
        verify(layer, expert, bank, slot, copy.checksum(), "worker " + worker);
        return null;
      });
      return;
    }
    onCompute(() -> {
      bank.load(slot, loader.load(layer, expert));
      return null;
    });
    if (!failures.isEmpty()) {
      LOG.warning("placement version " + target.version()
          + ": layer " + layer + " expert " + expert + " read from the checkpoint, no peer could send it: " + failures);
    }
  }

  private void verify(int layer, int expert, ExpertBank bank, int slot, long expected, String from) {
    long actual = bank.checksum(slot);
    if (actual != expected) {
      throw new PlacementRefusedException(String.format(
          "placement version %d refused: layer %d expert %d copied from %s into slot %d has checksum %016x, the"
              + " sender's copy has %016x", target.version(), layer, expert, from, slot, actual, expected));
    }
  }

  private <T> T onCompute(Supplier<T> work) {
    return BackendThread.call(compute, work);
  }

  private void closeCreated() {
    for (ExpertBank bank : created) {
      compute.execute(bank::close);
    }
    created.clear();
  }

  private static int indexOf(int[] a, int v) {
    for (int i = 0; i < a.length; i++) {
      if (a[i] == v) {
        return i;
      }
    }
    return -1;
  }

  static String describe(Throwable t) {
    return t.getMessage() == null ? t.toString() : t.getMessage();
  }
}

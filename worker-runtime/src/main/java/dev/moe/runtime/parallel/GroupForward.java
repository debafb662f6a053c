package dev.moe.runtime.parallel;

import dev.moe.placement.Placement;
import dev.moe.placement.PlacementJson;
import dev.moe.runtime.model.MoeConfig;
import dev.moe.runtime.nativelib.BackendChoice;
import dev.moe.runtime.rebalance.SlotTable;
import dev.moe.runtime.tensor.DType;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletionException;

/**
 * {@code forward --workers N}: one MoE layer on a batch, computed by N worker processes (children
 * of this one, {@code serve} on loopback) as an expert-parallel group would, with the experts
 * spread by the placement (round robin, one slot each, without one).
 */
public final class GroupForward {

  /** Time for N JVMs to start and load the checkpoint on a small machine. */
  static final Duration READY_TIMEOUT = Duration.ofSeconds(180);

  private GroupForward() {}

  /**
   * @param placementFile null for round robin
   * @param threads CPU threads per worker; 0 shares the cores among the workers
   */
  public static WorkerGroup.StepOutput run(Path checkpoint, MoeConfig config, int layer, float[] x, int tokens,
      int workers, Path placementFile, BackendChoice backend, DType dtype, int threads, int maxTokens) {
    if (placementFile != null) {
      // The workers would refuse it too; checked here first, the message names the file.
      Placement p = PlacementJson.read(placementFile, config.numExperts(), 0);
      SlotTable.of(1, p, 0, workers, config.numLayers(), config.numExperts(), config::isMoeLayer,
          placementFile.toString());
    }
    int perWorker = threads > 0 ? threads : Math.max(1, Runtime.getRuntime().availableProcessors() / workers);
    List<String> args = new ArrayList<>(List.of("--checkpoint", checkpoint.toAbsolutePath().toString(),
        "--backend", backend.name().toLowerCase(Locale.ROOT), "--threads", Integer.toString(perWorker),
        "--dtype", dtype == DType.BF16 ? "bf16" : "fp32", "--max-tokens", Integer.toString(maxTokens),
        "--connect-timeout", Long.toString(READY_TIMEOUT.toSeconds())));
    if (placementFile != null) {
      args.addAll(List.of("--placement", placementFile.toAbsolutePath().toString()));
    }
    try (ChildWorkers children = ChildWorkers.start(workers, args, READY_TIMEOUT);
        WorkerGroup group = WorkerGroup.connect(children.transportAddresses(), config.hiddenSize(),
            Duration.ofSeconds(30))) {
      return group.step(x, tokens, new int[] {layer}).join();
    } catch (CompletionException e) {
      if (e.getCause() instanceof RemoteException r && (r.code() == ErrorCode.BAD_REQUEST
          || r.code() == ErrorCode.OVERSIZE || r.code() == ErrorCode.UNKNOWN_LAYER)) {
        throw new IllegalArgumentException(r.getMessage(), r);
      }
      throw e.getCause() instanceof RuntimeException r ? r : e;
    }
  }
}

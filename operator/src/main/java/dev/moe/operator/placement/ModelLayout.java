package dev.moe.operator.placement;

import dev.moe.crds.v1alpha1.ModelShape;
import dev.moe.crds.v1alpha1.MoEModelSpec;
import dev.moe.crds.v1alpha1.Parallelism;
import dev.moe.crds.v1alpha1.PlacementPolicy;
import dev.moe.placement.ClusterSpec;
import dev.moe.placement.solve.SolverOptions;
import io.fabric8.kubernetes.api.model.Quantity;
import java.time.Duration;

/**
 * What the solver needs from a MoEModel's spec: the GPUs and their slots, the MoE layers and
 * experts, and the solver's options. Worker {@code w} holds GPUs {@code w * gpusPerWorker ...}.
 */
public record ModelLayout(int workers, int gpusPerWorker, ClusterSpec cluster, int layers, int experts,
    SolverOptions options) {

  /** The default solve time limit; the README's 58 x 256 on 144 GPUs placement fits in it. */
  public static final Duration DEFAULT_TIME_LIMIT = Duration.ofSeconds(5);

  /** GPU memory the runtime keeps for itself (activations, buffers) when slots come from memory. */
  static final long RESERVED_BYTES = 2L << 30;

  public static ModelLayout of(MoEModelSpec spec) {
    ModelShape shape = spec.getModel();
    Parallelism par = spec.getParallelism();
    int gpusPerWorker = par.getGpusPerWorker();
    int gpus = par.getWorkers() * gpusPerWorker;
    int gpusPerNode = par.getGpusPerNode() == null ? gpusPerWorker : par.getGpusPerNode();
    if (gpus % gpusPerNode != 0) {
      throw new InvalidModelException("parallelism.gpusPerNode (" + gpusPerNode + ") must divide the "
          + gpus + " GPUs of " + par.getWorkers() + " workers");
    }
    int slots = slotsPerGpu(shape, par);
    if ((long) slots * gpus < shape.getExpertsPerLayer()) {
      throw new InvalidModelException(gpus + " GPUs x " + slots + " slots hold fewer than the "
          + shape.getExpertsPerLayer() + " experts of a layer: add workers or GPU memory");
    }
    PlacementPolicy policy = spec.getPlacement() == null ? new PlacementPolicy() : spec.getPlacement();
    SolverOptions defaults = SolverOptions.defaults();
    SolverOptions options = new SolverOptions(
        Durations.parse(policy.getTimeLimit(), DEFAULT_TIME_LIMIT, "placement.timeLimit"),
        -1,
        orDefault(policy.getCrossNodeWeight(), defaults.crossNodeWeight()),
        orDefault(policy.getAffinityWeight(), defaults.affinityWeight()),
        orDefault(policy.getMigrationWeight(), defaults.migrationWeight()),
        defaults.hotExpertMinNodes(),
        defaults.threads());
    return new ModelLayout(par.getWorkers(), gpusPerWorker, new ClusterSpec(gpus, gpusPerNode, slots),
        shape.getMoeLayers(), shape.getExpertsPerLayer(), options);
  }

  private static int slotsPerGpu(ModelShape shape, Parallelism par) {
    if (par.getSlotsPerGpu() != null) {
      return par.getSlotsPerGpu();
    }
    Quantity memory = par.getGpuMemory();
    // Gate, up and down projections of one expert.
    long expertBytes = 3L * shape.getHiddenSize() * shape.getExpertIntermediateSize() * shape.getDtype().bytes();
    long memoryBytes = Quantity.getAmountInBytes(memory).longValue();
    if (memoryBytes <= RESERVED_BYTES) {
      throw new InvalidModelException("parallelism.gpuMemory (" + memory + ") must exceed the 2Gi the runtime keeps"
          + " for itself");
    }
    return ClusterSpec.slotsFromMemory(memoryBytes, RESERVED_BYTES, expertBytes);
  }

  private static double orDefault(Double v, double fallback) {
    return v == null ? fallback : v;
  }

  public int gpus() {
    return cluster.gpus();
  }

  /** The worker (StatefulSet ordinal) that serves {@code slot}. */
  public int workerOfSlot(int slot) {
    return cluster.gpuOfSlot(slot) / gpusPerWorker;
  }
}

package dev.moe.placement;

/**
 * The GPUs a placement is for. GPU {@code g} sits on node {@code g / gpusPerNode}; slot {@code s}
 * sits on GPU {@code s / slotsPerGpu}. {@code interNodeCost} is what a token dispatch that leaves
 * its node costs relative to one that stays on its node but leaves its GPU (cost 1).
 */
public record ClusterSpec(int gpus, int gpusPerNode, int slotsPerGpu, double interNodeCost) {

  public static final double DEFAULT_INTER_NODE_COST = 4.0;

  public ClusterSpec {
    if (gpus < 1) {
      throw new IllegalArgumentException("--gpus must be at least 1, got " + gpus);
    }
    if (gpusPerNode < 1 || gpus % gpusPerNode != 0) {
      throw new IllegalArgumentException(
          "--gpus-per-node (" + gpusPerNode + ") must be at least 1 and divide --gpus (" + gpus + ")");
    }
    if (slotsPerGpu < 1) {
      throw new IllegalArgumentException("--slots-per-gpu must be at least 1, got " + slotsPerGpu);
    }
    if (!(interNodeCost >= 1.0) || Double.isInfinite(interNodeCost)) {
      throw new IllegalArgumentException("inter-node cost must be a finite number >= 1, got " + interNodeCost);
    }
  }

  public ClusterSpec(int gpus, int gpusPerNode, int slotsPerGpu) {
    this(gpus, gpusPerNode, slotsPerGpu, DEFAULT_INTER_NODE_COST);
  }

  /** Slots per GPU from memory: what is left after the reserve, in whole experts. */
  public static int slotsFromMemory(long gpuMemoryBytes, long reservedBytes, long expertBytes) {
    if (expertBytes <= 0 || gpuMemoryBytes <= reservedBytes) {
      throw new IllegalArgumentException("GPU memory must exceed the reserve and expert bytes must be > 0");
    }
    return (int) Math.min(Integer.MAX_VALUE, (gpuMemoryBytes - reservedBytes) / expertBytes);
  }

  public int nodes() {
    return gpus / gpusPerNode;
  }

  public int slots() {
    return gpus * slotsPerGpu;
  }

  public int nodeOf(int gpu) {
    return gpu / gpusPerNode;
  }

  public int gpuOfSlot(int slot) {
    return slot / slotsPerGpu;
  }
}

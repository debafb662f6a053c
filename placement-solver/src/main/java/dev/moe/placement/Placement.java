package dev.moe.placement;

/**
 * The one placement type shared by the solver, the operator and the worker runtime.
 *
 * <p>{@code physicalToLogical[layer][slot]} is SGLang's {@code physical_to_logical_map}: slot
 * {@code s} lives on GPU {@code s / slotsPerGpu}. {@code replicaShares[layer][slot]} is the
 * fraction of its expert's tokens that slot serves; the shares of one expert's slots sum to 1.
 * {@code report} is null until the placement has been evaluated.
 */
public record Placement(
    int slotsPerGpu, int[][] physicalToLogical, double[][] replicaShares, PlacementReport report) {

  public int layers() {
    return physicalToLogical.length;
  }

  public int slots() {
    return physicalToLogical.length == 0 ? 0 : physicalToLogical[0].length;
  }

  public int gpus() {
    return slots() / slotsPerGpu;
  }

  public Placement withReport(PlacementReport newReport) {
    return new Placement(slotsPerGpu, physicalToLogical, replicaShares, newReport);
  }

  /** Shares that split each expert's tokens evenly over its slots in {@code map}. */
  public static double[] evenShares(int[] map, int experts) {
    int[] count = new int[experts];
    for (int e : map) {
      count[e]++;
    }
    double[] shares = new double[map.length];
    for (int s = 0; s < map.length; s++) {
      shares[s] = 1.0 / count[map[s]];
    }
    return shares;
  }
}

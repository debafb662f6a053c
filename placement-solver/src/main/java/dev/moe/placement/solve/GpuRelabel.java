package dev.moe.placement.solve;

import com.google.ortools.Loader;
import com.google.ortools.graph.LinearSumAssignment;
import java.util.function.IntBinaryOperator;

/**
 * GPUs are interchangeable to a layer's balance: a target placement's GPU contents may go to any
 * GPU. This gives each one to the GPU that already holds most of it (a linear assignment per layer),
 * so that reaching the target fetches as few replicas as possible. Nodes are not kept: matching
 * nodes as blocks first left 83% of DeepSeek-V3's replicas to move at 144 GPUs x 2 slots against
 * 50% this way. What that does to on-node traffic is measured on the step (LocalShares recomputes
 * its shares): on the shared decode -> prefill files the cross-node fraction came out lower, not higher.
 */
final class GpuRelabel {

  static {
    Loader.loadNativeLibraries();
  }

  private GpuRelabel() {}

  /** {@code target}'s GPU contents moved onto the GPUs of {@code served} that keep most of them. */
  static int[] relabel(int[] served, int[] target, int slotsPerGpu) {
    int gpus = served.length / slotsPerGpu;
    int[] mate = assign(gpus, (g, h) -> overlap(served, g, target, h, slotsPerGpu));
    int[] out = new int[target.length];
    for (int g = 0; g < gpus; g++) {
      System.arraycopy(target, mate[g] * slotsPerGpu, out, g * slotsPerGpu, slotsPerGpu);
    }
    return SlotAlignment.align(served, out, slotsPerGpu);
  }

  /** Replicas GPU {@code h} of {@code b} holds that GPU {@code g} of {@code a} holds too. */
  private static int overlap(int[] a, int g, int[] b, int h, int slotsPerGpu) {
    boolean[] used = new boolean[slotsPerGpu];
    int same = 0;
    for (int s = 0; s < slotsPerGpu; s++) {
      int e = a[g * slotsPerGpu + s];
      for (int t = 0; t < slotsPerGpu; t++) {
        if (!used[t] && b[h * slotsPerGpu + t] == e) {
          used[t] = true;
          same++;
          break;
        }
      }
    }
    return same;
  }

  /** A maximum-value perfect matching of {@code n} x {@code n}: the right mate of each left one. */
  private static int[] assign(int n, IntBinaryOperator value) {
    LinearSumAssignment assignment = new LinearSumAssignment();
    for (int i = 0; i < n; i++) {
      for (int j = 0; j < n; j++) {
        assignment.addArcWithCost(i, j, -value.applyAsInt(i, j));
      }
    }
    if (assignment.solve() != LinearSumAssignment.Status.OPTIMAL) {
      throw new IllegalStateException("linear assignment of " + n + " x " + n + " failed");
    }
    int[] mate = new int[n];
    for (int i = 0; i < n; i++) {
      mate[i] = assignment.getRightMate(i);
    }
    return mate;
  }
}

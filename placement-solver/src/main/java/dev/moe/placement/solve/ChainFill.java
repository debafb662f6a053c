package dev.moe.placement.solve;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.TreeMap;

/**
 * McNaughton's wrap-around with a slot limit: GPUs are filled one after the other up to the max load
 * L; each GPU takes the rest of the expert carried over from the previous one, whole experts sized to
 * its remaining room per slot, and a first part of the largest expert left, whose rest it carries to
 * the next GPU. Every expert is then split at most where a GPU fills up, so a layer of E experts
 * needs about E + G slots; spare slots get extra replicas, which the shares then use.
 */
final class ChainFill {

  private ChainFill() {}

  /** The slot map at the smallest L in [lowerBound, upperBound] that fills, or null. */
  static int[] place(double[] load, int gpus, int slotsPerGpu, double lowerBound, double upperBound) {
    int[] best = build(load, gpus, slotsPerGpu, upperBound);
    if (best == null) {
      return null;
    }
    double lo = lowerBound;
    double hi = upperBound;
    for (int iter = 0; iter < 30 && hi - lo > 1e-6 * hi; iter++) {
      double mid = 0.5 * (lo + hi);
      int[] map = build(load, gpus, slotsPerGpu, mid);
      if (map != null) {
        best = map;
        hi = mid;
      } else {
        lo = mid;
      }
    }
    return best;
  }

  static int[] build(double[] load, int gpus, int slotsPerGpu, double maxLoad) {
    TreeMap<Double, List<Integer>> left = new TreeMap<>();
    for (int e = 0; e < load.length; e++) {
      left.computeIfAbsent(load[e], k -> new ArrayList<>()).add(e);
    }
    int[] map = new int[gpus * slotsPerGpu];
    Arrays.fill(map, -1);
    int carry = -1;
    double carryLeft = 0;
    double tolerance = 1e-9 * maxLoad;
    for (int g = 0; g < gpus; g++) {
      int slot = g * slotsPerGpu;
      int end = slot + slotsPerGpu;
      double room = maxLoad;
      if (carry >= 0) {
        map[slot++] = carry;
        double piece = Math.min(carryLeft, room);
        room -= piece;
        carryLeft -= piece;
        if (carryLeft > tolerance) {
          continue;
        }
        carry = -1;
      }
      while (end - slot > 1 && !left.isEmpty()) {
        double target = room / (end - slot - 1);
        var fit = left.floorEntry(Math.min(room, target));
        var above = left.ceilingEntry(target);
        if (above != null && above.getKey() <= room
            && (fit == null || above.getKey() - target < target - fit.getKey())) {
          fit = above;
        }
        if (fit == null) {
          break;
        }
        map[slot++] = take(left, fit.getKey());
        room -= fit.getKey();
      }
      if (slot < end && !left.isEmpty() && room > tolerance) {
        double w = left.lastKey();
        int e = take(left, w);
        map[slot] = e;
        if (w > room + tolerance) {
          carry = e;
          carryLeft = w - room;
        }
      }
    }
    if (!left.isEmpty() || carryLeft > tolerance) {
      return null;
    }
    fillSpare(map, load);
    return map;
  }

  /** Spare slots hold extra replicas of the experts with the most load per replica. */
  private static void fillSpare(int[] map, double[] load) {
    int[] count = new int[load.length];
    for (int e : map) {
      if (e >= 0) {
        count[e]++;
      }
    }
    for (int s = 0; s < map.length; s++) {
      if (map[s] < 0) {
        int best = 0;
        for (int e = 1; e < load.length; e++) {
          if (load[e] / (count[e] + 1) > load[best] / (count[best] + 1)) {
            best = e;
          }
        }
        map[s] = best;
        count[best]++;
      }
    }
  }

  private static int take(TreeMap<Double, List<Integer>> left, double key) {
    List<Integer> list = left.get(key);
    int e = list.removeLast();
    if (list.isEmpty()) {
      left.remove(key);
    }
    return e;
  }
}

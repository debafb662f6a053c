package dev.moe.placement.solve;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * One layer's way from its served map to its target map, one replica at a time.
 *
 * <p>Each slot whose expert differs between the two maps is one replica to fetch. Writing a slot
 * is allowed while the expert it overwrites keeps another replica; when no slot is (every expert
 * still to overwrite has its last replica there), the slots form cycles of experts that trade
 * places, and one cycle is written at once. Among the allowed slots: first one that gives an expert
 * of the bottleneck another slot and lowers the max load (the only kind of write that can), else
 * one that keeps the max load, else the one whose overwritten expert has most replicas left.
 */
final class LayerPath {

  /**
   * An intermediate map: {@code moves} replicas fetched since the path's start, its best max load,
   * and {@code left} replicas still to fetch to the path's end.
   */
  record Point(int moves, double maxLoad, int[] map, int left) {}

  /** Allowed slots probed per write for a lower max load, most promising first; for one that keeps it. */
  private static final int TRIES = 4;
  private static final int CALM_TRIES = 16;

  private LayerPath() {}

  /**
   * From {@code served} (the first point) to {@code target} (the last), both aligned slot by slot
   * (a GPU's kept experts in the same slots); past {@code deadline} the rest is written at once.
   */
  static List<Point> build(double[] load, int[] served, int[] target, ShareBalancer balancer, long deadline) {
    int[] map = served.clone();
    int[] count = new int[load.length];
    for (int e : map) {
      count[e]++;
    }
    List<Integer> open = new ArrayList<>();
    for (int s = 0; s < map.length; s++) {
      if (map[s] != target[s]) {
        open.add(s);
      }
    }
    List<Point> path = new ArrayList<>();
    ShareBalancer.Result state = balancer.balance(map);
    path.add(new Point(0, state.maxLoad(), map.clone(), open.size()));
    int moves = 0;
    while (!open.isEmpty()) {
      List<Integer> write;
      if (System.nanoTime() > deadline) {
        write = List.copyOf(open);
      } else {
        write = next(map, target, count, open, state, balancer, load);
      }
      for (int s : write) {
        count[map[s]]--;
        count[target[s]]++;
        map[s] = target[s];
        open.remove(Integer.valueOf(s));
      }
      moves += write.size();
      state = balancer.balance(map);
      path.add(new Point(moves, state.maxLoad(), map.clone(), open.size()));
    }
    return path;
  }

  /** The slots to write next: one allowed slot, or a cycle when none is allowed. */
  private static List<Integer> next(int[] map, int[] target, int[] count, List<Integer> open,
      ShareBalancer.Result state, ShareBalancer balancer, double[] load) {
    boolean[] hot = state.bottleneck();
    List<Integer> allowed = new ArrayList<>();
    for (int s : open) {
      if (count[map[s]] >= 2) {
        allowed.add(s);
      }
    }
    if (allowed.isEmpty()) {
      return cycle(map, target, open);
    }
    // Most promising first: a bottleneck expert gains a slot; then the overwritten expert has most
    // replicas for the load it carries.
    allowed.sort(Comparator.comparingInt((Integer s) -> hot[target[s]] ? 0 : 1)
        .thenComparingDouble(s -> load[map[s]] / count[map[s]]));
    double level = state.maxLoad() * (1 - 1e-7);
    double keep = state.maxLoad() * (1 + 1e-9);
    Integer calm = null;
    for (int i = 0; i < Math.min(CALM_TRIES, allowed.size()) && (i < TRIES || calm == null); i++) {
      int s = allowed.get(i);
      int old = map[s];
      map[s] = target[s];
      boolean lower = i < TRIES && hot[target[s]] && balancer.probe(map, level).feasible();
      boolean same = !lower && calm == null && balancer.probe(map, keep).feasible();
      map[s] = old;
      if (lower) {
        return List.of(s);
      }
      if (same) {
        calm = s;
      }
    }
    return List.of(calm != null ? calm : allowed.getFirst());
  }

  /**
   * Slots whose experts trade places: from an open slot, the open slot whose target is the expert
   * it overwrites, and so on until a slot repeats. One exists because the target holds every expert,
   * and an expert with its last replica on an open slot is nowhere else in the map.
   */
  private static List<Integer> cycle(int[] map, int[] target, List<Integer> open) {
    List<Integer> walk = new ArrayList<>();
    int s = open.getFirst();
    while (!walk.contains(s)) {
      walk.add(s);
      int expert = map[s];
      int next = -1;
      for (int t : open) {
        if (target[t] == expert) {
          next = t;
          break;
        }
      }
      if (next < 0) {
        throw new IllegalStateException("expert " + expert + " is in neither the map nor the target elsewhere");
      }
      s = next;
    }
    return walk.subList(walk.indexOf(s), walk.size());
  }
}

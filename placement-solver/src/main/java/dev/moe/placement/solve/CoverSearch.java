package dev.moe.placement.solve;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Bin covering by local search, the construction behind {@link StarCover} at two slots per GPU:
 * at a max load L, the experts must split into exactly E - G groups whose slacks x_e = 1 - w_e / L
 * each sum to at least 1 (then every group is a star on one GPU fewer than its experts, and the
 * groups fill the G GPUs).
 *
 * <p>The search starts from a longest-slack-first fill (each expert above L opens a group, the
 * others go, largest slack first, to the group with the smallest sum) and minimizes the total
 * deficit: a group short of 1 takes the best move or swap with any other group, and where none
 * lowers the deficit, random moves and swaps that keep it are accepted, a walk on the plateau that
 * reshapes the surpluses until a repair exists. A group holds at most one expert above L, so that
 * a star around it realizes the group.
 */
final class CoverSearch {

  /** Slack a group may lack and still count as closed; below the realization's own tolerance. */
  private static final double EPS = 1e-10;

  /** Plateau proposals per repair attempt that found no improving move. */
  private static final int WALK = 256;

  private final double[] x;
  private final int n;
  private final int bins;
  private final int[] bin;
  private final double[] sum;
  private final int[] size;
  private final int[] heavies;
  /** The members of each group, and each expert's index among them. */
  private final int[][] members;
  private final int[] position;
  private final SplittableRandom random;

  private CoverSearch(double[] slack, int bins, long seed) {
    this.x = slack;
    this.n = slack.length;
    this.bins = bins;
    bin = new int[n];
    sum = new double[bins];
    size = new int[bins];
    heavies = new int[bins];
    members = new int[bins][n];
    position = new int[n];
    random = new SplittableRandom(seed);
  }

  /**
   * A group per expert (0 .. bins - 1) whose every group closes, or null when none was found within
   * {@code deadlineNanos} or {@code maxRounds} repair rounds.
   *
   * @param slack each expert's slack at the max load tried
   * @param bins the groups to close: experts minus GPUs
   */
  static int[] cover(double[] slack, int bins, int[] start, long seed, int maxRounds, long deadlineNanos) {
    if (bins <= 0 || slack.length < 2 * bins) {
      return null;
    }
    CoverSearch search = new CoverSearch(slack, bins, seed);
    if (!(start != null && search.start(start)) && !search.fill()) {
      return null;
    }
    return search.repair(maxRounds, deadlineNanos) ? search.bin.clone() : null;
  }

  /** The groups of a cover at a higher L; false when a group now holds two experts above L. */
  private boolean start(int[] groups) {
    for (int e = 0; e < n; e++) {
      if (x[e] < 0 && heavies[groups[e]] > 0) {
        Arrays.fill(sum, 0);
        Arrays.fill(size, 0);
        Arrays.fill(heavies, 0);
        return false;
      }
      join(groups[e], e);
    }
    return true;
  }

  /** The longest-slack-first fill; false when more experts weigh above L than there are groups. */
  private boolean fill() {
    Integer[] order = new Integer[n];
    for (int e = 0; e < n; e++) {
      order[e] = e;
    }
    Arrays.sort(order, (a, b) -> Double.compare(x[b], x[a]));
    int opened = 0;
    for (int i = n - 1; i >= 0 && x[order[i]] < 0; i--) {
      if (opened == bins) {
        return false;
      }
      join(opened++, order[i]);
    }
    for (int e : order) {
      if (x[e] < 0) {
        break;
      }
      // Lowest sum first, and every group its second expert before any takes a third.
      int smallest = 0;
      for (int b = 1; b < bins; b++) {
        if (fillKey(b) < fillKey(smallest)) {
          smallest = b;
        }
      }
      join(smallest, e);
    }
    return true;
  }

  private double fillKey(int b) {
    return sum[b] - (size[b] < 2 ? 2 : 0);
  }

  /** A group's deficit: the slack it lacks, and a whole GPU while it holds a lone expert. */
  private static double deficit(double s, int members) {
    return Math.max(0, 1 - EPS - s) + (members < 2 ? 1 : 0);
  }

  private boolean repair(int maxRounds, long deadlineNanos) {
    int[] open = new int[bins];
    for (int round = 0; ; round++) {
      int count = 0;
      for (int b = 0; b < bins; b++) {
        if (deficit(sum[b], size[b]) > 0) {
          open[count++] = b;
        }
      }
      if (count == 0) {
        return true;
      }
      if (round == maxRounds || ((round & 15) == 0 && System.nanoTime() > deadlineNanos)) {
        return false;
      }
      if (!improve(open[random.nextInt(count)])) {
        walk();
      }
    }
  }

  /** The best move or swap into group {@code a} that lowers the total deficit; false when none does. */
  private boolean improve(int a) {
    double before = deficit(sum[a], size[a]);
    double best = -1e-12;
    int bestIn = -1;
    int bestOut = -1;
    boolean pairs = size[a] >= 2;
    for (int j = 0; j < n; j++) {
      int b = bin[j];
      // Whatever a group without surplus gives, it loses as much: only a deficit's size can gain.
      if (b == a || (pairs && sum[b] <= 1 - EPS)) {
        continue;
      }
      double beforeB = deficit(sum[b], size[b]);
      if (heavies[a] == 0 || x[j] >= 0) {
        double d = deficit(sum[a] + x[j], size[a] + 1) - before + deficit(sum[b] - x[j], size[b] - 1) - beforeB;
        if (d < best) {
          best = d;
          bestIn = j;
          bestOut = -1;
        }
      }
      for (int k = 0; k < size[a]; k++) {
        int i = members[a][k];
        if (x[j] <= x[i] || !swappable(i, j)) {
          continue;
        }
        double t = x[j] - x[i];
        double d = deficit(sum[a] + t, size[a]) - before + deficit(sum[b] - t, size[b]) - beforeB;
        if (d < best) {
          best = d;
          bestIn = j;
          bestOut = i;
        }
      }
    }
    if (bestIn < 0) {
      return false;
    }
    int b = bin[bestIn];
    move(bestIn, a);
    if (bestOut >= 0) {
      move(bestOut, b);
    }
    return true;
  }

  /** Random moves and swaps between groups, each kept when it does not raise the total deficit. */
  private void walk() {
    for (int t = 0; t < WALK; t++) {
      int j = random.nextInt(n);
      int i = random.nextInt(n);
      int a = bin[i];
      int b = bin[j];
      if (a == b) {
        continue;
      }
      double before = deficit(sum[a], size[a]) + deficit(sum[b], size[b]);
      if (random.nextBoolean() && (heavies[a] == 0 || x[j] >= 0)) {
        if (deficit(sum[a] + x[j], size[a] + 1) + deficit(sum[b] - x[j], size[b] - 1) <= before) {
          move(j, a);
        }
      } else if (swappable(i, j)) {
        double d = x[j] - x[i];
        if (deficit(sum[a] + d, size[a]) + deficit(sum[b] - d, size[b]) <= before) {
          move(j, a);
          move(i, b);
        }
      }
    }
  }

  /** Whether swapping i and j keeps at most one expert above L in each of their groups. */
  private boolean swappable(int i, int j) {
    boolean hi = x[i] < 0;
    boolean hj = x[j] < 0;
    return hi == hj || heavies[hi ? bin[j] : bin[i]] == 0;
  }

  private void move(int e, int to) {
    int from = bin[e];
    int last = members[from][--size[from]];
    members[from][position[e]] = last;
    position[last] = position[e];
    sum[from] -= x[e];
    heavies[from] -= x[e] < 0 ? 1 : 0;
    join(to, e);
  }

  private void join(int b, int e) {
    bin[e] = b;
    position[e] = size[b];
    members[b][size[b]++] = e;
    sum[b] += x[e];
    heavies[b] += x[e] < 0 ? 1 : 0;
  }
}

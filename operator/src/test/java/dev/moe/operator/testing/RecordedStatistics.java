package dev.moe.operator.testing;

import dev.moe.crds.v1alpha1.MoEModel;
import dev.moe.operator.stats.Coverage;
import dev.moe.operator.stats.StatisticsSource;
import dev.moe.operator.stats.StatisticsWindow;
import dev.moe.operator.stats.StatisticsUnavailableException;
import dev.moe.stats.RoutingStats;
import dev.moe.stats.RoutingStatsReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.IntStream;

/** Statistics fed by a test (recorded ones from the repository's routing data), in place of the workers' endpoints. */
public final class RecordedStatistics implements StatisticsSource {

  private final AtomicReference<RoutingStats> next = new AtomicReference<>();
  private final AtomicReference<String> unreachable = new AtomicReference<>();
  private final AtomicInteger reads = new AtomicInteger();
  private final Map<String, AtomicInteger> modelReads = new ConcurrentHashMap<>();
  /** Alternates with {@link #next} when set: traffic that flips between two windows. */
  private final AtomicReference<RoutingStats> alternate = new AtomicReference<>();
  /** The windows' intervals when set, oldest first: each window is their sum, split as a scraper's samples split it. */
  private final AtomicReference<List<RoutingStats>> intervals = new AtomicReference<>();
  /** What the windows saw of the traffic; null: every worker. */
  private final AtomicReference<Coverage> coverage = new AtomicReference<>();

  public void serve(RoutingStats stats) {
    alternate.set(null);
    intervals.set(null);
    next.set(stats);
  }

  /** Windows of one-second intervals: {@code before}'s routing in the first {@code changed}, {@code after}'s since. */
  public void shift(RoutingStats before, RoutingStats after, int changed, int count) {
    alternate.set(null);
    List<RoutingStats> parts = IntStream.range(0, count).mapToObj(i -> i < changed ? before : after).toList();
    double[][] sum = new double[before.layers()][before.experts()];
    for (RoutingStats part : parts) {
      for (int l = 0; l < sum.length; l++) {
        for (int e = 0; e < sum[l].length; e++) {
          sum[l][e] += part.logicalCount()[l][e];
        }
      }
    }
    next.set(RoutingStats.ofCounts(sum));
    intervals.set(parts);
  }

  public void alternate(RoutingStats a, RoutingStats b) {
    intervals.set(null);
    next.set(a);
    alternate.set(b);
  }

  /** The windows from now on miss some workers, as when they do not answer {@code /stats}. */
  public void coverage(Coverage c) {
    coverage.set(c);
  }

  public void unreachable(String why) {
    unreachable.set(why);
  }

  public int reads() {
    return reads.get();
  }

  @Override
  public Optional<StatisticsWindow> window(MoEModel model, Duration window) {
    String why = unreachable.get();
    if (why != null) {
      throw new StatisticsUnavailableException(why);
    }
    reads.incrementAndGet();
    // Each model's windows alternate on their own, so that models read side by side each see the flips.
    int n = modelReads.computeIfAbsent(model.getMetadata().getUid(), k -> new AtomicInteger()).getAndIncrement();
    RoutingStats b = alternate.get();
    Coverage c = coverage.get();
    Coverage seen = c != null ? c : Coverage.complete(model.getSpec().getParallelism().getWorkers());
    List<RoutingStats> parts = intervals.get();
    Instant now = Instant.now();
    List<StatisticsWindow.Interval> split = parts == null ? List.of() : IntStream.range(0, parts.size())
        .mapToObj(i -> new StatisticsWindow.Interval(now.minusSeconds(parts.size() - i),
            now.minusSeconds(parts.size() - i - 1), parts.get(i).logicalCount())).toList();
    return Optional.ofNullable(b != null && n % 2 == 1 ? b : next.get())
        .map(stats -> new StatisticsWindow(stats, seen, split));
  }

  /** The models (UIDs) read and not since dropped by {@link #retain}: what a scraper keeps a history for. */
  public Set<String> models() {
    return Set.copyOf(modelReads.keySet());
  }

  @Override
  public void retain(Set<String> modelUids) {
    modelReads.keySet().retainAll(modelUids);
  }

  /** Traffic on one expert of every layer of {@link Models#small}: 1000 of its tokens to 10 of each other expert's. */
  public static RoutingStats oneHotExpert(int expert) {
    double[][] counts = new double[4][16];
    for (double[] layer : counts) {
      Arrays.fill(layer, 10);
      layer[expert] = 1000;
    }
    return RoutingStats.ofCounts(counts);
  }

  public static RoutingStats resource(String name) {
    return RoutingStatsReader.parse(resourceText(name).getBytes(StandardCharsets.UTF_8), name);
  }

  /** A file of the repository's {@code data/routing/deepseek-v3-sglang} (Surefire runs in the module directory). */
  public static String resourceText(String name) {
    try {
      return Files.readString(Path.of("../data/routing/deepseek-v3-sglang").resolve(name));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}

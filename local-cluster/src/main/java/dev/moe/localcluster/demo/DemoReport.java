package dev.moe.localcluster.demo;

import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moe.localcluster.demo.TimelinePlot.Marker;
import dev.moe.localcluster.demo.TimelinePlot.Panel;
import dev.moe.localcluster.demo.TimelinePlot.Series;
import dev.moe.localcluster.demo.RequestTraffic.RequestRecord;
import dev.moe.runtime.bench.ServingBenchmark;
import dev.moe.runtime.bench.StreamedCompletion;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.function.Predicate;
import java.util.function.ToDoubleFunction;

/**
 * What the demo shows at the end: the figures of the three stretches of the run (placed on
 * decode and serving decode-like requests; serving prefill-like requests on that placement;
 * serving them after the rebalance), as a table on the terminal, {@code summary.json} and a plot.
 */
public final class DemoReport {

  /**
   * The model's status as sampled during the run.
   *
   * @param observed the operator's balancedness of the current placement on its last window, or NaN
   */
  public record StatusSample(double t, String revision, double observed, double predicted) {}

  /**
   * @param firstCompletion seconds from applying the model to its first completion
   * @param shiftAt when the traffic switched phases (seconds from the start)
   * @param switchAt when the operator reported a placement rolled out after the shift served by every worker, or NaN
   * @param decisionAt when the operator took its first rebalance after the shift, or NaN
   * @param replicasMoved the replicas that rebalance moved
   * @param observedAtDecision the balancedness the operator observed when it decided, or NaN
   */
  public record Run(List<RequestRecord> requests, List<StatusSample> status, double firstCompletion, double shiftAt,
      double decisionAt, double switchAt, long replicasMoved, double observedAtDecision, String before, String after) {}

  /** Times in milliseconds. */
  private record Stretch(String name, int requests, int errors, double ttftP50, double ttftP99, double tpotP50,
      double tpotP99, double tokensPerSecond, double observed) {}

  /** Requests that started in the first seconds share the cold start; they are left out of the figures. */
  private static final double WARM_SECONDS = 5;
  /** The plot's resolution. */
  private static final double BUCKET_SECONDS = 10;

  private DemoReport() {}

  public static boolean rebalanced(Run run) {
    return !Double.isNaN(run.switchAt());
  }

  /** Prints the table, and writes {@code summary.json} and {@code timeline.svg} into {@code dir}. */
  public static void write(Run run, Path dir, PrintStream out) {
    double switchAt = rebalanced(run) ? run.switchAt() : Double.MAX_VALUE;
    List<Stretch> stretches = List.of(
        stretch("decode, placed on decode", run, r -> r.phase().equals("decode") && r.startSeconds() > WARM_SECONDS,
            lastObserved(run, run.shiftAt(), run.before())),
        stretch("prefill, same placement", run, r -> r.phase().equals("prefill") && r.endSeconds() <= switchAt,
            run.observedAtDecision()),
        stretch("prefill, after the rebalance", run, r -> r.phase().equals("prefill") && r.startSeconds() >= switchAt,
            lastObserved(run, Double.MAX_VALUE, run.after())));
    out.println();
    out.printf(Locale.ROOT, "%-30s %8s %6s %9s %9s %9s %9s %8s %12s%n", "", "requests", "errors", "TTFT p50",
        "TTFT p99", "TPOT p50", "TPOT p99", "output", "balancedness");
    out.printf(Locale.ROOT, "%-30s %8s %6s %9s %9s %9s %9s %8s %12s%n", "", "", "", "ms", "ms", "ms", "ms", "tok/s",
        "(operator)");
    for (Stretch s : stretches) {
      out.printf(Locale.ROOT, "%-30s %8d %6d %9s %9s %9s %9s %8s %12s%n", s.name(), s.requests(), s.errors(),
          fixed(s.ttftP50(), 0), fixed(s.ttftP99(), 0), fixed(s.tpotP50(), 1), fixed(s.tpotP99(), 1),
          fixed(s.tokensPerSecond(), 1), fixed(s.observed(), 3));
    }
    out.printf(Locale.ROOT, "first completion %.0f s after the model was applied; shift at %.0f s; rebalance decided"
            + " %s, served by every worker %s (%s -> %s), %d replicas moved%n", run.firstCompletion(), run.shiftAt(),
        after(run.decisionAt(), run.shiftAt()), after(run.switchAt(), run.shiftAt()), run.before(),
        run.after() == null ? "-" : run.after(), run.replicasMoved());
    ObjectNode json = JsonMapper.builder().build().createObjectNode();
    json.put("firstCompletionSeconds", run.firstCompletion()).put("shiftAtSeconds", run.shiftAt())
        .put("rebalanced", rebalanced(run)).put("decisionAfterShiftSeconds", run.decisionAt() - run.shiftAt())
        .put("switchAfterShiftSeconds", run.switchAt() - run.shiftAt()).put("replicasMoved", run.replicasMoved())
        .put("revisionBefore", run.before()).put("revisionAfter", run.after());
    var rows = json.putArray("stretches");
    for (Stretch s : stretches) {
      rows.addObject().put("name", s.name()).put("requests", s.requests()).put("errors", s.errors())
          .put("ttftP50Ms", s.ttftP50()).put("ttftP99Ms", s.ttftP99()).put("tpotP50Ms", s.tpotP50())
          .put("tpotP99Ms", s.tpotP99()).put("outputTokensPerSecond", s.tokensPerSecond())
          .put("observedBalancedness", s.observed());
    }
    try {
      Files.createDirectories(dir);
      Files.writeString(dir.resolve("summary.json"), json.toPrettyString());
      Files.writeString(dir.resolve("timeline.svg"), plot(run));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write the report into " + dir, e);
    }
    out.println("summary: " + dir.resolve("summary.json") + ", plot: " + dir.resolve("timeline.svg"));
  }

  private static Stretch stretch(String name, Run run, Predicate<RequestRecord> in, double observed) {
    List<RequestRecord> all = run.requests().stream().filter(in).toList();
    List<StreamedCompletion.Result> ok = all.stream().map(RequestRecord::result).filter(StreamedCompletion.Result::ok)
        .toList();
    double from = all.stream().mapToDouble(RequestRecord::startSeconds).min().orElse(0);
    double to = all.stream().mapToDouble(RequestRecord::endSeconds).max().orElse(0);
    long tokens = ok.stream().mapToLong(StreamedCompletion.Result::outputTokens).sum();
    return new Stretch(name, all.size(), all.size() - ok.size(), percentile(ok, StreamedCompletion.Result::ttftMillis, 50),
        percentile(ok, StreamedCompletion.Result::ttftMillis, 99), percentile(ok, StreamedCompletion.Result::tpotMillis, 50),
        percentile(ok, StreamedCompletion.Result::tpotMillis, 99), to > from ? tokens / (to - from) : Double.NaN,
        observed);
  }

  private static double percentile(List<StreamedCompletion.Result> results,
      ToDoubleFunction<StreamedCompletion.Result> f, double p) {
    return ServingBenchmark.percentile(results.stream().mapToDouble(f).filter(Double::isFinite).sorted().toArray(), p);
  }

  /** The operator's last observation of {@code revision} up to {@code before} seconds. */
  private static double lastObserved(Run run, double before, String revision) {
    return run.status().stream().filter(s -> s.t() <= before && revision.equals(s.revision())
            && !Double.isNaN(s.observed()))
        .mapToDouble(StatusSample::observed).reduce((a, b) -> b).orElse(Double.NaN);
  }

  private static String plot(Run run) {
    double tMax = run.requests().stream().mapToDouble(RequestRecord::endSeconds).max().orElse(1);
    List<StatusSample> observed = run.status().stream().filter(s -> !Double.isNaN(s.observed())).toList();
    List<StatusSample> predicted = run.status().stream().filter(s -> !Double.isNaN(s.predicted())).toList();
    Panel balance = new Panel("Balancedness (1 = every GPU equally loaded)", 0.5, 1.0, List.of(
        new Series("observed (operator)", "#d62728", observed.stream().mapToDouble(StatusSample::t).toArray(),
            observed.stream().mapToDouble(StatusSample::observed).toArray()),
        new Series("predicted (solver)", "#1f77b4", predicted.stream().mapToDouble(StatusSample::t).toArray(),
            predicted.stream().mapToDouble(StatusSample::predicted).toArray())));
    List<double[]> buckets = buckets(run.requests(), BUCKET_SECONDS);
    Panel tpot = new Panel("Time per output token, ms (requests ended in each " + (int) BUCKET_SECONDS + " s)", 0,
        Math.ceil(Arrays.stream(column(buckets, 2)).filter(Double::isFinite).max().orElse(1) * 1.1), List.of(
        new Series("p50", "#9467bd", column(buckets, 0), column(buckets, 1)),
        new Series("p99", "#7f7f7f", column(buckets, 0), column(buckets, 2))));
    Panel throughput = new Panel("Output tokens per second", 0,
        Math.ceil(Arrays.stream(column(buckets, 3)).max().orElse(1) * 1.1), List.of(
        new Series("all clients", "#2ca02c", column(buckets, 0), column(buckets, 3))));
    List<Marker> markers = new ArrayList<>(List.of(new Marker("shift to prefill-like prompts", run.shiftAt())));
    if (rebalanced(run)) {
      markers.add(new Marker("rebalanced", run.switchAt()));
    }
    return TimelinePlot.svg("DeepSeek-V3 layout served through the OpenAI API, 8 workers x 36 slots",
        List.of(balance, tpot, throughput), markers, tMax);
  }

  /** Per {@code width} seconds of request ends: its middle, TPOT p50 and p99, output tokens per second. */
  private static List<double[]> buckets(List<RequestRecord> requests, double width) {
    List<RequestRecord> sorted = requests.stream().filter(r -> r.result().ok())
        .sorted(Comparator.comparingDouble(RequestRecord::endSeconds)).toList();
    List<double[]> out = new ArrayList<>();
    int i = 0;
    while (i < sorted.size()) {
      double start = Math.floor(sorted.get(i).endSeconds() / width) * width;
      List<StreamedCompletion.Result> in = new ArrayList<>();
      while (i < sorted.size() && sorted.get(i).endSeconds() < start + width) {
        in.add(sorted.get(i++).result());
      }
      out.add(new double[] {start + width / 2, percentile(in, StreamedCompletion.Result::tpotMillis, 50),
          percentile(in, StreamedCompletion.Result::tpotMillis, 99),
          in.stream().mapToLong(StreamedCompletion.Result::outputTokens).sum() / width});
    }
    return out;
  }

  private static double[] column(List<double[]> rows, int c) {
    return rows.stream().mapToDouble(r -> r[c]).toArray();
  }

  private static String fixed(double v, int digits) {
    return Double.isNaN(v) ? "-" : String.format(Locale.ROOT, "%." + digits + "f", v);
  }

  private static String after(double t, double shift) {
    return Double.isNaN(t) ? "never" : String.format(Locale.ROOT, "%.0f s after it", t - shift);
  }
}

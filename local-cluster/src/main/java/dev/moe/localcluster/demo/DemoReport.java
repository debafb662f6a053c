package dev.moe.localcluster.demo;

import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moe.localcluster.demo.TimelinePlot.Marker;
import dev.moe.localcluster.demo.TimelinePlot.Panel;
import dev.moe.localcluster.demo.TimelinePlot.Series;
import dev.moe.localcluster.demo.TrafficReplay.StepRecord;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.function.Predicate;
import java.util.function.ToDoubleFunction;

/**
 * What the demo shows at the end: the figures of the three stretches of the run (placed on
 * decode and serving decode; serving prefill on that placement; serving prefill after the
 * rebalance), as a table on the terminal, {@code summary.json} and a plot.
 */
public final class DemoReport {

  /**
   * The model's status as sampled during the run.
   *
   * @param observed the operator's balancedness of the current placement on its last window, or NaN
   */
  public record StatusSample(double t, String revision, double observed, double predicted) {}

  /**
   * @param shiftAt when the traffic switched phases (seconds from the start)
   * @param switchAt when the first step ran on a placement rolled out after the shift, or NaN
   * @param decisionAt when the operator took its first rebalance after the shift, or NaN
   * @param replicasMoved the replicas that rebalance moved
   * @param observedAtDecision the balancedness the operator observed when it decided, or NaN
   */
  public record Run(List<StepRecord> steps, List<StatusSample> status, double shiftAt, double decisionAt,
      double switchAt, long replicasMoved, double observedAtDecision, String before, String after) {}

  private record Stretch(String name, int steps, double observed, double rowsBalance, double slowestMs,
      double wallMs) {}

  private DemoReport() {}

  public static boolean rebalanced(Run run) {
    return !Double.isNaN(run.switchAt());
  }

  /** Prints the table, and writes {@code summary.json} and {@code balancedness.svg} into {@code dir}. */
  public static void write(Run run, Path dir, PrintStream out) {
    long versionAtShift = run.steps().stream().filter(s -> s.atSeconds() <= run.shiftAt())
        .mapToLong(StepRecord::version).max().orElse(0);
    double warm = 5;
    List<Stretch> stretches = List.of(
        stretch("decode, placed on decode", run, s -> s.phase().equals("decode") && s.atSeconds() > warm,
            lastObserved(run, run.shiftAt(), run.before())),
        stretch("prefill, same placement", run, s -> s.phase().equals("prefill") && s.version() == versionAtShift,
            run.observedAtDecision()),
        stretch("prefill, after the rebalance", run, s -> s.phase().equals("prefill") && s.version() > versionAtShift,
            lastObserved(run, Double.MAX_VALUE, run.after())));
    out.println();
    out.printf(Locale.ROOT, "%-30s %7s %12s %13s %16s %12s%n", "", "steps", "balancedness", "rows max/mean",
        "slowest worker", "step (wall)");
    out.printf(Locale.ROOT, "%-30s %7s %12s %13s %16s %12s%n", "", "", "(operator)", "(measured)", "kernels, median",
        "median");
    for (Stretch s : stretches) {
      out.printf(Locale.ROOT, "%-30s %7d %12s %13s %16s %12s%n", s.name(), s.steps(), fixed(s.observed(), 3),
          fixed(s.rowsBalance(), 3), fixed(s.slowestMs(), 1) + " ms", fixed(s.wallMs(), 1) + " ms");
    }
    out.printf(Locale.ROOT, "shift at %.0f s; rebalance decided %s, serving %s (%s -> %s), %d replicas moved%n",
        run.shiftAt(), after(run.decisionAt(), run.shiftAt()), after(run.switchAt(), run.shiftAt()), run.before(),
        run.after() == null ? "-" : run.after(), run.replicasMoved());
    ObjectNode json = JsonMapper.builder().build().createObjectNode();
    json.put("shiftAtSeconds", run.shiftAt()).put("rebalanced", rebalanced(run))
        .put("decisionAfterShiftSeconds", run.decisionAt() - run.shiftAt())
        .put("switchAfterShiftSeconds", run.switchAt() - run.shiftAt()).put("replicasMoved", run.replicasMoved())
        .put("revisionBefore", run.before()).put("revisionAfter", run.after());
    var rows = json.putArray("stretches");
    for (Stretch s : stretches) {
      rows.addObject().put("name", s.name()).put("steps", s.steps()).put("observedBalancedness", s.observed())
          .put("rowsMaxOverMean", s.rowsBalance()).put("slowestWorkerKernelMs", s.slowestMs())
          .put("stepWallMs", s.wallMs());
    }
    try {
      Files.createDirectories(dir);
      Files.writeString(dir.resolve("summary.json"), json.toPrettyString());
      Files.writeString(dir.resolve("balancedness.svg"), plot(run));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write the report into " + dir, e);
    }
    out.println("summary: " + dir.resolve("summary.json") + ", plot: " + dir.resolve("balancedness.svg"));
  }

  private static Stretch stretch(String name, Run run, Predicate<StepRecord> in, double observed) {
    List<StepRecord> steps = run.steps().stream().filter(in).toList();
    return new Stretch(name, steps.size(), observed, median(steps, StepRecord::maxMeanRows),
        median(steps, StepRecord::slowestWorkerMs), median(steps, StepRecord::wallMs));
  }

  /** The operator's last observation of {@code revision} up to {@code before} seconds. */
  private static double lastObserved(Run run, double before, String revision) {
    return run.status().stream().filter(s -> s.t() <= before && revision.equals(s.revision())
            && !Double.isNaN(s.observed()))
        .mapToDouble(StatusSample::observed).reduce((a, b) -> b).orElse(Double.NaN);
  }

  private static double median(List<StepRecord> steps, ToDoubleFunction<StepRecord> f) {
    double[] v = steps.stream().mapToDouble(f).sorted().toArray();
    return v.length == 0 ? Double.NaN : v[v.length / 2];
  }

  private static String plot(Run run) {
    double tMax = run.steps().isEmpty() ? 1 : run.steps().getLast().atSeconds();
    List<StatusSample> observed = run.status().stream().filter(s -> !Double.isNaN(s.observed())).toList();
    List<StatusSample> predicted = run.status().stream().filter(s -> !Double.isNaN(s.predicted())).toList();
    double bucket = 2;
    List<double[]> buckets = buckets(run.steps(), bucket);
    Panel balance = new Panel("Balancedness (1 = every GPU equally loaded)", 0.5, 1.0, List.of(
        new Series("observed (operator)", "#d62728", observed.stream().mapToDouble(StatusSample::t).toArray(),
            observed.stream().mapToDouble(StatusSample::observed).toArray()),
        new Series("predicted (solver)", "#1f77b4", predicted.stream().mapToDouble(StatusSample::t).toArray(),
            predicted.stream().mapToDouble(StatusSample::predicted).toArray()),
        new Series("mean/max rows (steps)", "#2ca02c", column(buckets, 0), column(buckets, 1))));
    double top = Math.ceil(Arrays.stream(column(buckets, 3)).max().orElse(1) * 1.1);
    Panel time = new Panel("Step time, ms (" + (int) bucket + " s medians)", 0, top, List.of(
        new Series("slowest worker's kernels", "#9467bd", column(buckets, 0), column(buckets, 2)),
        new Series("step, wall", "#7f7f7f", column(buckets, 0), column(buckets, 3))));
    List<Marker> markers = new ArrayList<>(List.of(new Marker("shift to prefill", run.shiftAt())));
    if (rebalanced(run)) {
      markers.add(new Marker("rebalanced", run.switchAt()));
    }
    return TimelinePlot.svg("DeepSeek-V3 routing, decode then prefill, 8 workers x 36 slots", List.of(balance, time),
        markers, tMax);
  }

  /** Per {@code width} seconds: its middle, mean/max rows, median slowest-worker ms, median wall ms. */
  private static List<double[]> buckets(List<StepRecord> steps, double width) {
    List<double[]> out = new ArrayList<>();
    int i = 0;
    while (i < steps.size()) {
      double start = Math.floor(steps.get(i).atSeconds() / width) * width;
      List<StepRecord> in = new ArrayList<>();
      while (i < steps.size() && steps.get(i).atSeconds() < start + width) {
        in.add(steps.get(i++));
      }
      double balance = in.stream().mapToDouble(s -> 1 / s.maxMeanRows()).average().orElse(1);
      out.add(new double[] {start + width / 2, balance, median(in, StepRecord::slowestWorkerMs),
          median(in, StepRecord::wallMs)});
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

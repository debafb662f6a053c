package dev.moe.runtime.bench;

import dev.moe.runtime.model.ExpertWeights;
import dev.moe.runtime.nativelib.Backend;
import dev.moe.runtime.nativelib.BackendChoice;
import dev.moe.runtime.nativelib.ExpertBank;
import dev.moe.runtime.tensor.DType;
import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * The kernel benchmark ({@code bench-kernels}): the grouped SwiGLU FFN of one expert on real MoE
 * shapes, against this machine's FMA peak, its read bandwidth, and OpenBLAS's sgemm doing the same
 * three products.
 *
 * <p>Per batch size: our time per FFN, GFLOP/s (2 * tokens * hidden * inter * 3 flops) and its share
 * of the FMA peak; OpenBLAS's time for gate, up and down as three sgemm calls and our speed relative
 * to it; and for small batches, where the weights' streaming decides, the effective bandwidth
 * (weight bytes / time) against the read bandwidth measured over a buffer of the weights' size (so
 * both see the same caches).
 */
public final class KernelBenchmark {

  /** An expert shape: SwiGLU hidden -> inter -> hidden. */
  public record Shape(String name, int hidden, int inter) {
    long flopsPerToken() {
      return 6L * hidden * inter;
    }
  }

  public static final Shape DEEPSEEK_V3 = new Shape("DeepSeek-V3 expert", 7168, 2048);
  public static final Shape MIXTRAL = new Shape("Mixtral-8x7B expert", 4096, 14336);
  static final int[] TOKENS = {1, 2, 4, 8, 64, 256, 1024, 4096};
  /** Quick mode: the shapes scaled down 8 times and three batch sizes, for a smoke test. */
  static final int QUICK_SCALE = 8;
  static final int[] QUICK_TOKENS = {1, 8, 64};
  /** Batches up to this size report bandwidth: their time is the weights' streaming. */
  static final int STREAMING_TOKENS = 8;

  /** What to run. */
  public record Options(BackendChoice backend, int threads, DType dtype, boolean quick) {}

  /** One batch size: times in seconds; NaN where a column does not apply. */
  public record Row(int tokens, double seconds, double gflops, double percentOfPeak, double openBlasSeconds,
      double speedVsOpenBlas, double bandwidthGbs, double percentOfBandwidth) {}

  public record ShapeResult(Shape shape, long weightBytes, double bandwidthOverWeightsGbs, List<Row> rows) {}

  public record Result(String buildInfo, String backend, DType dtype, double fmaPeakGflops, long bandwidthBytes,
      double readBandwidthGbs, String openBlas, List<ShapeResult> shapes) {}

  private final Options options;

  public KernelBenchmark(Options options) {
    this.options = options;
  }

  /** Runs every measurement; {@code progress} hears what is being measured (it takes minutes). */
  public Result run(Consumer<String> progress) {
    boolean quick = options.quick();
    double seconds = quick ? 0.1 : 1.0;
    try (Backend backend = Backend.open(options.backend(), options.threads())) {
      boolean cpu = backend.kind() == BackendChoice.CPU;
      int threads = cpu ? backend.threads() : options.threads();
      double peak = Backend.fmaPeakGflops(threads, seconds);
      long bandwidthBytes = (quick ? 64L : 1024L) << 20;
      double bandwidth = Backend.readBandwidthGbs(bandwidthBytes, threads, seconds);
      Optional<OpenBlas> blas = cpu ? OpenBlas.load() : Optional.empty();
      blas.ifPresent(b -> b.setThreads(backend.threads()));
      String blasInfo = !cpu ? "not compared on " + backend
          : blas.map(b -> OpenBlas.LIBRARY + ", core " + b.coreName() + ", " + backend.threads() + " threads")
              .orElse(OpenBlas.LIBRARY + " not found: column skipped");

      List<ShapeResult> shapes = new ArrayList<>();
      for (Shape full : List.of(DEEPSEEK_V3, MIXTRAL)) {
        Shape shape = quick ? new Shape(full.name() + " / " + QUICK_SCALE, full.hidden() / QUICK_SCALE,
            full.inter() / QUICK_SCALE) : full;
        progress.accept("measuring " + shape.name() + " ...");
        shapes.add(runShape(backend, shape, threads, peak, seconds, blas, cpu));
      }
      return new Result(Backend.buildInfo(), backend.toString(), options.dtype(), peak, bandwidthBytes, bandwidth,
          blasInfo, shapes);
    }
  }

  private ShapeResult runShape(Backend backend, Shape shape, int threads, double peak, double seconds,
      Optional<OpenBlas> blas, boolean cpu) {
    int hidden = shape.hidden(), inter = shape.inter();
    long matrix = (long) hidden * inter;
    long weightBytes = 3 * matrix * options.dtype().size();
    double bandwidthOverWeights = cpu ? Backend.readBandwidthGbs(weightBytes, threads, seconds) : Double.NaN;
    int[] tokens = options.quick() ? QUICK_TOKENS : TOKENS;
    int maxTokens = Arrays.stream(tokens).max().orElseThrow();
    List<Row> rows = new ArrayList<>();
    try (Arena arena = Arena.ofConfined();
        ExpertBank bank = ExpertBank.create(backend, 1, hidden, inter, options.dtype())) {
      MemorySegment gate = randomMatrix(arena, matrix, 1);
      MemorySegment up = randomMatrix(arena, matrix, 2);
      MemorySegment down = randomMatrix(arena, matrix, 3);
      bank.load(0, new ExpertWeights(DType.F32, hidden, inter, gate, up, down));
      // OpenBLAS's operands, sized for the largest batch.
      MemorySegment x = blas.isPresent() ? randomMatrix(arena, (long) maxTokens * hidden, 4) : null;
      MemorySegment g = blas.isPresent() ? arena.allocate((long) maxTokens * inter * Float.BYTES, 64) : null;
      MemorySegment u = blas.isPresent() ? arena.allocate((long) maxTokens * inter * Float.BYTES, 64) : null;
      MemorySegment y = blas.isPresent() ? arena.allocate((long) maxTokens * hidden * Float.BYTES, 64) : null;
      // All of ours first: OpenBLAS's threads keep spinning for a while after each call.
      double[] ours = new double[tokens.length];
      for (int i = 0; i < tokens.length; i++) {
        ours[i] = bank.benchFfn(tokens[i], 1, iterations(tokens[i]));
      }
      for (int i = 0; i < tokens.length; i++) {
        int t = tokens[i];
        double gflops = t * (double) shape.flopsPerToken() / ours[i] / 1e9;
        double blasSeconds = blas.map(b -> median(iterations(t), () -> {
          b.linear(t, inter, hidden, x, gate, g);
          b.linear(t, inter, hidden, x, up, u);
          b.linear(t, hidden, inter, g, down, y);
        })).orElse(Double.NaN);
        boolean streaming = t <= STREAMING_TOKENS && cpu;
        double effective = streaming ? weightBytes / ours[i] / 1e9 : Double.NaN;
        rows.add(new Row(t, ours[i], gflops, cpu ? 100 * gflops / peak : Double.NaN, blasSeconds,
            blasSeconds / ours[i], effective, 100 * effective / bandwidthOverWeights));
      }
    }
    return new ShapeResult(shape, weightBytes, bandwidthOverWeights, rows);
  }

  private static int iterations(int tokens) {
    return tokens <= STREAMING_TOKENS ? 20 : tokens <= 256 ? 5 : 3;
  }

  /** Float32 values in [-0.05, 0.05) from a fixed LCG: realistic magnitudes, no denormals. */
  private static MemorySegment randomMatrix(Arena arena, long elems, long seed) {
    MemorySegment m = arena.allocate(elems * Float.BYTES, 64);
    long state = seed * 0x9E3779B97F4A7C15L;
    for (long i = 0; i < elems; i++) {
      state = state * 6364136223846793005L + 1442695040888963407L;
      m.setAtIndex(ValueLayout.JAVA_FLOAT, i, ((state >>> 40) / (float) (1 << 24) - 0.5f) * 0.1f);
    }
    return m;
  }

  /** Median seconds of {@code iters} runs after one warm-up. */
  private static double median(int iters, Runnable body) {
    body.run();
    double[] times = new double[iters];
    for (int i = 0; i < iters; i++) {
      long start = System.nanoTime();
      body.run();
      times[i] = (System.nanoTime() - start) / 1e9;
    }
    Arrays.sort(times);
    return times[iters / 2];
  }

  /** The report: machine figures, then one table per shape. */
  public static void print(Result r, PrintStream out) {
    out.printf(Locale.ROOT, "native library: %s%n", r.buildInfo());
    out.printf(Locale.ROOT, "backend: %s, weights %s%n", r.backend(), r.dtype());
    out.printf(Locale.ROOT, "FMA peak (AVX2 float32): %.1f GFLOP/s%n", r.fmaPeakGflops());
    out.printf(Locale.ROOT, "read bandwidth (%d MiB buffer): %.1f GB/s%n", r.bandwidthBytes() >> 20,
        r.readBandwidthGbs());
    out.printf(Locale.ROOT, "OpenBLAS: %s%n", r.openBlas());
    for (ShapeResult s : r.shapes()) {
      out.println();
      out.printf(Locale.ROOT, "%s: hidden %d, inter %d, %.1f MB of weights; read bandwidth over %.1f MB: %s%n",
          s.shape().name(), s.shape().hidden(), s.shape().inter(), s.weightBytes() / 1e6, s.weightBytes() / 1e6,
          Double.isNaN(s.bandwidthOverWeightsGbs()) ? "n/a" : String.format(Locale.ROOT, "%.1f GB/s",
              s.bandwidthOverWeightsGbs()));
      out.printf(Locale.ROOT, "%7s %11s %9s %7s %12s %10s %8s %6s%n", "tokens", "ours ms", "GFLOP/s", "% peak",
          "OpenBLAS ms", "speed x", "GB/s", "% bw");
      for (Row row : s.rows()) {
        out.printf(Locale.ROOT, "%7d %11.3f %9.1f %7s %12s %10s %8s %6s%n", row.tokens(), row.seconds() * 1e3,
            row.gflops(), fmt("%.1f", row.percentOfPeak()), fmt("%.3f", row.openBlasSeconds() * 1e3),
            fmt("%.2f", row.speedVsOpenBlas()), fmt("%.1f", row.bandwidthGbs()), fmt("%.0f", row.percentOfBandwidth()));
      }
    }
    out.println();
    out.println("speed x = OpenBLAS time / our time (above 1: faster); % bw = effective weight bandwidth"
        + " (weight bytes / time) against the read bandwidth over the same bytes.");
  }

  private static String fmt(String format, double v) {
    return Double.isNaN(v) ? "-" : String.format(Locale.ROOT, format, v);
  }
}

package dev.moe.runtime.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import dev.moe.runtime.tls.ModelTls;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;
import java.util.function.Consumer;
import java.util.stream.Collectors;

/**
 * The serving benchmark ({@code bench-serving}): streamed completions against an OpenAI-compatible
 * server, level after level of concurrency. Every request asks for exactly {@code maxTokens} tokens
 * (ignore_eos) after a prompt of about {@code promptTokens} tokens of varied words, different per
 * request (so no prefix cache can help). Per request it times the first token and the tokens after
 * it ({@link StreamedCompletion}); per level it reports their median and 99th percentile and the
 * output tokens per second of the whole level.
 *
 * <p>Closed loop by default (each of the {@code concurrency} clients sends its next request when
 * the last one ends); with a rate, open loop: requests start at Poisson arrivals (seeded), at most
 * {@code concurrency} at a time.
 */
public final class ServingBenchmark {

  /**
   * @param urls the servers' base URLs: requests go to them in turn (the workers of a group, each
   *     serving its own requests)
   * @param model null: the server's first model (GET /v1/models)
   * @param apiKey null: none
   * @param rate null: closed loop; else requests per second
   * @param switching null: no placement switches; else each level runs a second time while the
   *     group's placement is switched over and over
   */
  public record Options(List<URI> urls, String model, String apiKey, List<Integer> concurrency, int requests,
      int promptTokens, int maxTokens, Double rate, long seed, Switching switching) {

    public Options {
      urls = List.copyOf(urls);
      concurrency = List.copyOf(concurrency);
    }

    /** The first server: where the model and the tokenizer's word size are asked. */
    public URI url() {
      return urls.getFirst();
    }
  }

  /**
   * Placement switches during a level: every worker's control API ({@code serve --http}), the
   * token it takes, how long each version serves before the next switch, and the share of every
   * GPU's slots a switch moves.
   */
  public record Switching(List<URI> workers, String token, ModelTls tls, Duration pause, double fraction) {

    public Switching {
      workers = List.copyOf(workers);
    }
  }

  /**
   * One concurrency level; times in milliseconds, NaN when no request succeeded; {@code switches}:
   * placement switches completed while it ran (-1 for a run without switching).
   */
  public record Level(int concurrency, int requests, int errors, double ttftP50, double ttftP99, double tpotP50,
      double tpotP99, double outputTokensPerSecond, double seconds, String firstError, int switches,
      double meanPromptTokens) {}

  private static final ObjectMapper JSON = new ObjectMapper();

  /** Plain words of assorted lengths: prompts of about one token per word in common vocabularies. */
  private static final String[] WORDS = ("time person year way day thing man world life hand part child eye woman place"
      + " work week case point government company number group problem fact river mountain window garden music"
      + " question answer system program market energy water story history paper table morning evening silver"
      + " yellow quickly gently because although between through during against without before after under"
      + " over river forest ocean planet engine signal memory pattern bridge castle doctor teacher student"
      + " village winter summer autumn spring coffee bread apple orange purple green seven eleven hundred").split(" ");

  private final Options options;
  private final HttpClient client;
  private final String model;
  private final StreamedCompletion completion;
  /** Words per prompt that make about promptTokens tokens with the server's tokenizer. */
  private final int promptWords;

  /**
   * Connects to the server and finds the model to ask for.
   *
   * @throws IllegalArgumentException the server cannot be reached or refuses (one line)
   */
  public ServingBenchmark(Options options) {
    this.options = options;
    this.client = StreamedCompletion.httpClient();
    this.model = options.model() != null ? options.model() : firstModel();
    this.completion = new StreamedCompletion(client, model, options.apiKey(), options.maxTokens(), true);
    this.promptWords = calibrate();
  }

  /**
   * How many words make a prompt of about {@code promptTokens} tokens: one completion of a prompt,
   * whose usage says how many tokens the server's tokenizer made of its words.
   */
  private int calibrate() {
    // Half the target in words: short enough for a server sized for the target whatever its tokenizer.
    int words = Math.max(4, options.promptTokens() / 2);
    ObjectNode body = JSON.createObjectNode();
    body.put("model", model);
    body.put("prompt", prompt(-1, words));
    body.put("max_tokens", 1);
    HttpRequest request = StreamedCompletion.authorized(
        HttpRequest.newBuilder(options.url().resolve("/v1/completions")), options.apiKey())
        .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body.toString())).build();
    try {
      HttpResponse<String> response = client.send(request, HttpResponse.BodyHandlers.ofString());
      if (response.statusCode() == 401) {
        throw new IllegalArgumentException(options.url() + " wants an API key: give it with --api-key-file");
      }
      int tokens = JSON.readTree(response.body()).path("usage").path("prompt_tokens").asInt(0);
      if (response.statusCode() != 200 || tokens <= 0) {
        throw new IllegalArgumentException(options.url() + "/v1/completions answered " + response.statusCode()
            + " without usage: " + response.body().strip());
      }
      return Math.max(1, (int) Math.round((double) options.promptTokens() * words / tokens));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot reach " + options.url() + ": " + e, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
  }

  public String model() {
    return model;
  }

  /** Runs every level in order; {@code progress} hears each level as it starts. */
  public List<Level> run(Consumer<String> progress) {
    List<Level> levels = new ArrayList<>();
    int requestIndex = 0;
    for (int concurrency : options.concurrency()) {
      progress.accept("concurrency " + concurrency + ": " + options.requests() + " requests");
      levels.add(level(concurrency, requestIndex, -1));
      requestIndex += options.requests();
      if (options.switching() != null) {
        progress.accept("concurrency " + concurrency + ": " + options.requests()
            + " requests while the placement is switched over and over");
        Switching sw = options.switching();
        Level switched;
        int switches;
        String failure;
        try (PlacementSwitcher switcher = new PlacementSwitcher(sw.workers(), sw.token(), sw.tls(), sw.pause(), sw.fraction())) {
          switched = level(concurrency, requestIndex, 0);
          switches = switcher.switches();
          failure = switcher.failure();
        }
        if (failure != null) {
          throw new IllegalStateException("placement switching failed: " + failure);
        }
        levels.add(new Level(switched.concurrency(), switched.requests(), switched.errors(), switched.ttftP50(),
            switched.ttftP99(), switched.tpotP50(), switched.tpotP99(), switched.outputTokensPerSecond(),
            switched.seconds(), switched.firstError(), switches, switched.meanPromptTokens()));
        requestIndex += options.requests();
      }
    }
    return levels;
  }

  private Level level(int concurrency, int firstRequest, int switches) {
    Semaphore slots = new Semaphore(concurrency);
    SplittableRandom arrivals = new SplittableRandom(options.seed() ^ 0x5DEECE66DL * (concurrency + 1));
    List<Future<StreamedCompletion.Result>> futures = new ArrayList<>();
    long start = System.nanoTime();
    try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
      double next = 0;
      for (int i = 0; i < options.requests(); i++) {
        if (options.rate() != null) {
          sleepUntil(start + (long) (next * 1e9));
          next += -Math.log(1 - arrivals.nextDouble()) / options.rate();
        }
        slots.acquireUninterruptibly();
        String prompt = prompt(firstRequest + i, promptWords);
        URI server = options.urls().get((firstRequest + i) % options.urls().size());
        futures.add(pool.submit(() -> {
          try {
            return completion.send(server, prompt);
          } finally {
            slots.release();
          }
        }));
      }
    }
    double seconds = (System.nanoTime() - start) / 1e9;
    List<StreamedCompletion.Result> timings = futures.stream().map(ServingBenchmark::result).toList();
    List<StreamedCompletion.Result> ok = timings.stream().filter(StreamedCompletion.Result::ok).toList();
    String firstError = timings.stream().map(StreamedCompletion.Result::error).filter(e -> e != null).findFirst()
        .orElse(null);
    double[] ttft = ok.stream().mapToDouble(StreamedCompletion.Result::ttftMillis).sorted().toArray();
    double[] tpot = ok.stream().mapToDouble(StreamedCompletion.Result::tpotMillis).filter(Double::isFinite).sorted()
        .toArray();
    long tokens = ok.stream().mapToLong(StreamedCompletion.Result::outputTokens).sum();
    return new Level(concurrency, timings.size(), timings.size() - ok.size(), percentile(ttft, 50),
        percentile(ttft, 99), percentile(tpot, 50), percentile(tpot, 99), tokens / seconds, seconds, firstError,
        switches, ok.stream().mapToInt(StreamedCompletion.Result::promptTokens).average().orElse(Double.NaN));
  }

  private static StreamedCompletion.Result result(Future<StreamedCompletion.Result> f) {
    try {
      return f.get();
    } catch (Exception e) {
      return StreamedCompletion.Result.failed(String.valueOf(e.getCause()));
    }
  }

  /** {@code words} words after a request number, drawn per request (seeded): no two prompts share a prefix. */
  String prompt(int index, int words) {
    SplittableRandom r = new SplittableRandom(options.seed() * 1_000_003L + index);
    StringBuilder s = new StringBuilder("Request ").append(index).append(':');
    for (int i = 0; i < words - 2; i++) {
      s.append(' ').append(WORDS[r.nextInt(WORDS.length)]);
    }
    return s.toString();
  }

  private String firstModel() {
    HttpRequest request = StreamedCompletion.authorized(HttpRequest.newBuilder(options.url().resolve("/v1/models")),
        options.apiKey()).GET().build();
    HttpResponse<String> response;
    try {
      response = client.send(request, HttpResponse.BodyHandlers.ofString());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot reach " + options.url() + ": " + e, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
    if (response.statusCode() == 401) {
      throw new IllegalArgumentException(options.url() + " wants an API key: give it with --api-key-file");
    }
    try {
      JsonNode id = JSON.readTree(response.body()).path("data").path(0).path("id");
      if (response.statusCode() != 200 || !id.isTextual()) {
        throw new IllegalArgumentException(options.url() + "/v1/models answered " + response.statusCode()
            + " without a model: " + response.body().strip());
      }
      return id.asText();
    } catch (IOException e) {
      throw new IllegalArgumentException(options.url() + "/v1/models did not answer JSON: " + e.getMessage());
    }
  }

  private static void sleepUntil(long nanoTime) {
    long wait = nanoTime - System.nanoTime();
    if (wait > 0) {
      try {
        Thread.sleep(Duration.ofNanos(wait));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /** The nearest-rank percentile of sorted values; NaN when there are none. */
  public static double percentile(double[] sorted, double p) {
    if (sorted.length == 0) {
      return Double.NaN;
    }
    int rank = (int) Math.ceil(p / 100 * sorted.length);
    return sorted[Math.max(0, Math.min(sorted.length, rank) - 1)];
  }

  /**
   * The table: one row per level, throughput also as a ratio to the first level (the baseline run
   * side by side), then the first error of each level that had any.
   */
  public static void print(Options options, String model, List<Level> levels, PrintStream out) {
    out.printf(Locale.ROOT, "bench-serving: %s, model %s, prompts of ~%d tokens (%.1f measured), %d output tokens"
            + " (ignore_eos), %d requests per level, %s%n", options.urls().stream().map(URI::toString)
            .collect(Collectors.joining(", ")), model, options.promptTokens(),
        levels.stream().mapToDouble(Level::meanPromptTokens).filter(Double::isFinite).average().orElse(Double.NaN),
        options.maxTokens(),
        options.requests(), options.rate() == null ? "closed loop"
            : String.format(Locale.ROOT, "open loop at %.2f requests/s", options.rate()));
    boolean switching = options.switching() != null;
    out.println(" concurrency  requests  errors  TTFT p50 ms  TTFT p99 ms  TPOT p50 ms  TPOT p99 ms  output tok/s"
        + "  vs first" + (switching ? "  switches  TPOT p99 vs no switch" : ""));
    double base = levels.isEmpty() ? Double.NaN : levels.getFirst().outputTokensPerSecond();
    Level unswitched = null;
    for (Level l : levels) {
      out.printf(Locale.ROOT, " %11d  %8d  %6d  %11s  %11s  %11s  %11s  %12.1f  %8s", l.concurrency(), l.requests(),
          l.errors(), ms(l.ttftP50()), ms(l.ttftP99()), ms(l.tpotP50()), ms(l.tpotP99()), l.outputTokensPerSecond(),
          base > 0 ? String.format(Locale.ROOT, "%.2fx", l.outputTokensPerSecond() / base) : "-");
      if (switching) {
        if (l.switches() < 0) {
          unswitched = l;
          out.printf(Locale.ROOT, "  %8s  %21s", "-", "-");
        } else {
          out.printf(Locale.ROOT, "  %8d  %21s", l.switches(), unswitched == null ? "-"
              : String.format(Locale.ROOT, "%.2fx", l.tpotP99() / unswitched.tpotP99()));
        }
      }
      out.println();
    }
    for (Level l : levels) {
      if (l.firstError() != null) {
        out.println("concurrency " + l.concurrency() + ": " + l.errors() + " failed, first: " + l.firstError());
      }
    }
    out.flush();
  }

  private static String ms(double v) {
    return Double.isNaN(v) ? "-" : String.format(Locale.ROOT, "%.1f", v);
  }

  /** Parses {@code 1,4,16}: positive levels. */
  public static List<Integer> levels(String list) {
    try {
      List<Integer> levels = Arrays.stream(list.split(",")).map(String::strip).map(Integer::parseInt).toList();
      if (levels.isEmpty() || levels.stream().anyMatch(c -> c < 1)) {
        throw new NumberFormatException();
      }
      return levels;
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("--concurrency: '" + list + "' is not a list of positive numbers like 1,4,16");
    }
  }
}

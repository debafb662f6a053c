package dev.moe.runtime.cli;

import dev.moe.runtime.bench.ServingBenchmark;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import dev.moe.runtime.tls.ModelTls;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** {@code bench-serving}: TTFT, TPOT and throughput of an OpenAI-compatible server, per concurrency level. */
@Command(
    name = "bench-serving",
    mixinStandardHelpOptions = true,
    versionProvider = WorkerCli.Version.class,
    description = "Streams completions from an OpenAI-compatible server (the worker's --api) at each concurrency"
        + " level and prints time to first token, time per output token and output tokens/s.")
public final class BenchServingCommand implements Callable<Integer> {

  @ParentCommand WorkerCli parent;

  @Spec CommandSpec spec;

  @Option(names = "--url", required = true, paramLabel = "http://HOST:PORT[,...]",
      description = "The server's base URL (its /v1/completions is used); several (the workers of a group): requests"
          + " go to them in turn.")
  String url;

  @Option(names = "--model", paramLabel = "NAME", description = "The model to ask for (default: the server's first).")
  String model;

  @Option(names = "--api-key-file", paramLabel = "FILE", description = "A file holding the server's API key.")
  Path apiKeyFile;

  @Option(names = "--concurrency", defaultValue = "1,4,16", paramLabel = "C,C,...",
      description = "Requests in flight, one level after the other (default: ${DEFAULT-VALUE}).")
  String concurrency;

  @Option(names = "--requests", defaultValue = "32", paramLabel = "N",
      description = "Requests per level (default: ${DEFAULT-VALUE}).")
  int requests;

  @Option(names = "--prompt-tokens", defaultValue = "128", paramLabel = "P",
      description = "About how many tokens each prompt has (default: ${DEFAULT-VALUE}).")
  int promptTokens;

  @Option(names = "--max-tokens", defaultValue = "64", paramLabel = "M",
      description = "Tokens each request generates, exactly (ignore_eos) (default: ${DEFAULT-VALUE}).")
  int maxTokens;

  @Option(names = "--rate", paramLabel = "R",
      description = "Open loop: requests start at Poisson arrivals of R per second (at most C in flight).")
  Double rate;

  @Option(names = "--seed", defaultValue = "1", paramLabel = "S",
      description = "Seeds the prompts and arrivals (default: ${DEFAULT-VALUE}).")
  long seed;

  @Option(names = "--switch-placements", paramLabel = "https://HOST:PORT,...",
      description = "Run each level again while the group's placement is switched over and over (every expert"
          + " moves each time): every worker's control API (serve --control), by rank.")
  String switchWorkers;

  @Option(names = "--control-tls", paramLabel = "DIR",
      description = "The model's TLS files as the workers have them (tls.crt, tls.key, ca.crt), for"
          + " --switch-placements: the control API is HTTPS, and only a worker of that CA is trusted.")
  Path controlTls;

  @Option(names = "--control-token-file", paramLabel = "FILE",
      description = "The token of the workers' control API (serve --stats-token-file), for --switch-placements.")
  Path controlTokenFile;

  @Option(names = "--switch-pause", defaultValue = "1", paramLabel = "SECONDS",
      description = "With --switch-placements: how long each version serves before the next switch"
          + " (default: ${DEFAULT-VALUE}).")
  double switchPause;

  @Option(names = "--switch-fraction", defaultValue = "0.1", paramLabel = "F",
      description = "With --switch-placements: the share of every GPU's expert slots a switch moves (at least one)"
          + " (default: ${DEFAULT-VALUE}).")
  double switchFraction;

  @Override
  public Integer call() {
    List<Integer> levels = ServingBenchmark.levels(concurrency);
    if (requests < 1 || promptTokens < 4 || maxTokens < 1) {
      throw new IllegalArgumentException("--requests and --max-tokens must be positive, --prompt-tokens at least 4");
    }
    if (rate != null && !(rate > 0 && Double.isFinite(rate))) {
      throw new IllegalArgumentException("--rate must be a positive number of requests per second, got " + rate);
    }
    List<URI> urls = new ArrayList<>();
    for (String u : url.split(",")) {
      urls.add(baseUrl(u.strip()));
    }
    ServingBenchmark.Options options = new ServingBenchmark.Options(urls, model, apiKey(), levels, requests,
        promptTokens, maxTokens, rate, seed, switching());
    ServingBenchmark bench = new ServingBenchmark(options);
    PrintWriter err = spec.commandLine().getErr();
    List<ServingBenchmark.Level> results = bench.run(line -> {
      err.println(line);
      err.flush();
    });
    ServingBenchmark.print(options, bench.model(), results, parent.out);
    return 0;
  }

  private ServingBenchmark.Switching switching() {
    if (switchWorkers == null) {
      if (controlTokenFile != null || controlTls != null) {
        throw new IllegalArgumentException("--control-token-file and --control-tls need --switch-placements");
      }
      return null;
    }
    if (controlTokenFile == null || controlTls == null) {
      throw new IllegalArgumentException("--switch-placements needs --control-token-file and --control-tls (the"
          + " workers' control token and TLS files)");
    }
    if (!(switchPause >= 0 && Double.isFinite(switchPause))) {
      throw new IllegalArgumentException("--switch-pause must be 0 or more seconds, got " + switchPause);
    }
    if (!(switchFraction > 0 && switchFraction <= 1)) {
      throw new IllegalArgumentException("--switch-fraction must be in (0, 1], got " + switchFraction);
    }
    List<URI> workers = new ArrayList<>();
    for (String w : switchWorkers.split(",")) {
      workers.add(baseUrl(w.strip()));
    }
    return new ServingBenchmark.Switching(workers, secret(controlTokenFile, "--control-token-file"),
        ModelTls.fromFiles(controlTls.resolve("tls.crt"), controlTls.resolve("tls.key"), controlTls.resolve("ca.crt")),
        Duration.ofMillis((long) (switchPause * 1000)), switchFraction);
  }

  private String apiKey() {
    return apiKeyFile == null ? null : secret(apiKeyFile, "--api-key-file");
  }

  private static String secret(Path file, String option) {
    try {
      String key = Files.readString(file, StandardCharsets.UTF_8).strip();
      if (key.isEmpty()) {
        throw new IllegalArgumentException(option + ": " + file + " is empty");
      }
      return key;
    } catch (IOException e) {
      throw new UncheckedIOException(option + ": cannot read " + file + ": " + e.getMessage(), e);
    }
  }

  static URI baseUrl(String url) {
    try {
      URI uri = new URI(url.endsWith("/") ? url.substring(0, url.length() - 1) : url);
      if (!("http".equals(uri.getScheme()) || "https".equals(uri.getScheme())) || uri.getHost() == null) {
        throw new URISyntaxException(url, "not http(s)://HOST:PORT");
      }
      return uri;
    } catch (URISyntaxException e) {
      throw new IllegalArgumentException("--url: '" + url + "' is not an http://HOST:PORT address");
    }
  }
}

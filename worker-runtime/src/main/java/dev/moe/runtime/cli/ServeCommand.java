package dev.moe.runtime.cli;

import dev.moe.placement.Placement;
import dev.moe.placement.PlacementJson;
import dev.moe.runtime.api.ApiOptions;
import dev.moe.runtime.model.Checkpoint;
import dev.moe.runtime.parallel.CheckpointModel;
import dev.moe.runtime.parallel.WorkerOptions;
import dev.moe.runtime.rebalance.Placements;
import dev.moe.runtime.server.BearerToken;
import dev.moe.runtime.server.WorkerProcess;
import dev.moe.runtime.tls.ModelTls;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

/**
 * {@code serve}: one worker of an expert-parallel group, until SIGTERM. It loads its slots of the
 * placement from the checkpoint, connects to the other workers, and serves steps, peers' rows and
 * placement changes over TCP (mutual TLS with the model's certificate), {@code /healthz}, {@code
 * /readyz} and {@code /metrics} over HTTP, and {@code /stats} and {@code /placement} over HTTPS.
 * SIGTERM stops it gracefully.
 */
@Command(
    name = "serve",
    mixinStandardHelpOptions = true,
    description = "Runs one worker of an expert-parallel group (one per GPU) until SIGTERM.")
public final class ServeCommand implements Callable<Integer> {

  @ParentCommand WorkerCli parent;

  @Option(names = "--rank", required = true, paramLabel = "R",
      description = "This worker's rank: its GPU in the placement (slot s is on GPU s / slots_per_gpu).")
  int rank;

  @Option(names = "--peers", required = true, paramLabel = "HOST:PORT,...",
      description = "Every worker's transport address, in rank order (this worker's own included).")
  String peers;

  @Option(names = "--listen", paramLabel = "HOST:PORT",
      description = "Where this worker's transport listens (default: its own --peers entry).")
  String listen;

  @Option(names = "--http", defaultValue = "0.0.0.0:8080", paramLabel = "HOST:PORT",
      description = "Plain HTTP address for /healthz, /readyz and /metrics (default: ${DEFAULT-VALUE}).")
  String http;

  @Option(names = "--control", defaultValue = "0.0.0.0:8443", paramLabel = "HOST:PORT",
      description = "HTTPS address for /stats and /placement (and the probes' endpoints), with the --tls-* files;"
          + " not served without them (default: ${DEFAULT-VALUE}).")
  String control;

  @Mixin TlsOptions tls;

  @Option(names = "--checkpoint", required = true, paramLabel = "DIR",
      description = "Checkpoint directory as transformers' save_pretrained writes it.")
  Path checkpoint;

  @Option(names = "--placement", paramLabel = "P.json",
      description = "Initial placement (placement-solver's JSON), served as version 1; default: round robin,"
          + " one slot per expert, as version 0.")
  Path placement;

  @Option(names = "--stats-token-file", paramLabel = "FILE",
      description = "Bearer token guarding /stats and /placement (served over HTTPS only, so it needs the --tls-*"
          + " files); without it they answer 403.")
  Path statsTokenFile;

  @Mixin BackendOptions backend;

  @Option(names = "--max-tokens", defaultValue = "65536", paramLabel = "N",
      description = "Most tokens one step may give this worker (default: ${DEFAULT-VALUE}).")
  int maxTokens;

  @Option(names = "--max-rows", defaultValue = "1048576", paramLabel = "N",
      description = "Most rows one peer dispatch may carry (default: ${DEFAULT-VALUE}).")
  int maxRows;

  @Option(names = "--stage-budget-bytes", defaultValue = "67108864", paramLabel = "BYTES",
      description = "Weight bytes staged per step for a placement posted to /placement (default: ${DEFAULT-VALUE}).")
  long stageBudgetBytes;

  @Option(names = "--stats-sample-every", defaultValue = "1", paramLabel = "N",
      description = "1 in N tokens feeds the transition statistics (default: ${DEFAULT-VALUE}).")
  int statsSampleEvery;

  @Option(names = "--connect-timeout", defaultValue = "120", paramLabel = "SECONDS",
      description = "How long to wait for the other workers to listen (default: ${DEFAULT-VALUE}).")
  int connectTimeout;

  @Option(names = "--api", paramLabel = "HOST:PORT",
      description = "Serve the OpenAI-compatible API (/v1/completions, /v1/chat/completions, /v1/models) here,"
          + " running this worker's requests through the serving engine; without it the worker only computes its"
          + " experts' rows for a coordinator.")
  String api;

  @Option(names = "--api-key-file", paramLabel = "FILE",
      description = "Bearer token every API request must carry (Authorization: Bearer ...); default: none.")
  Path apiKeyFile;

  @Mixin ServingOptions serving;

  @Option(names = "--grace", defaultValue = "30", paramLabel = "SECONDS",
      description = "On SIGTERM, how long steps in flight may take to finish (default: ${DEFAULT-VALUE}).")
  int grace;

  @Override
  public Integer call() throws InterruptedException {
    List<InetSocketAddress> addresses = new ArrayList<>();
    for (String p : peers.split(",")) {
      addresses.add(address(p.strip(), "--peers"));
    }
    if (rank < 0 || rank >= addresses.size()) {
      throw new IllegalArgumentException("--rank " + rank + " is not in the group of " + addresses.size()
          + " workers named by --peers");
    }
    int threads = backend.threads();
    if (maxTokens < 1 || maxRows < 1 || stageBudgetBytes < 1 || statsSampleEvery < 1
        || connectTimeout < 1 || grace < 0) {
      throw new IllegalArgumentException("--max-tokens, --max-rows, --stage-budget-bytes,"
          + " --stats-sample-every, --connect-timeout and --grace must be positive (--grace may be 0)");
    }
    BearerToken token = statsTokenFile == null ? null : BearerToken.fromFile(statsTokenFile);
    ModelTls identity = tls.load();
    if (token != null && identity == null) {
      throw new IllegalArgumentException("--stats-token-file needs --tls-cert, --tls-key and --tls-ca: the token is"
          + " accepted over HTTPS only");
    }
    WorkerOptions options = new WorkerOptions(backend.backend(), threads, backend.dtype(), maxTokens, maxRows,
        statsSampleEvery, 10.0, 20);
    try (Checkpoint ckpt = Checkpoint.open(checkpoint)) {
      CheckpointModel model = new CheckpointModel(ckpt, backend.dtype());
      Placement initial = placement == null
          ? Placements.roundRobin(model.layers(), model.experts(), addresses.size())
          : PlacementJson.read(placement, model.experts(), 0);
      // A placement given here is version 1; the default round robin is version 0, a stand-in that
      // the operator's first revision (version 1) replaces.
      WorkerProcess.Config config = new WorkerProcess.Config(rank, addresses,
          listen == null ? addresses.get(rank) : address(listen, "--listen"), address(http, "--http"),
          address(control, "--control"), initial, placement == null ? 0 : 1, options,
          token, Duration.ofSeconds(connectTimeout), stageBudgetBytes, identity);
      WorkerProcess.Serving engine = null;
      if (api != null) {
        ApiOptions apiOptions = ApiOptions.defaults().withShutdownGrace(Duration.ofSeconds(grace))
            .withApiKey(apiKeyFile == null ? null : BearerToken.fromFile(apiKeyFile));
        engine = new WorkerProcess.Serving(ckpt, serving.engine(checkpoint, backend.dtype()), address(api, "--api"),
            apiOptions);
      } else if (apiKeyFile != null) {
        throw new IllegalArgumentException("--api-key-file needs --api");
      }
      WorkerProcess process = WorkerProcess.start(config, model, engine);
      Thread hook = new Thread(() -> process.shutdown(Duration.ofSeconds(grace)), "worker-" + rank + "-shutdown");
      Runtime.getRuntime().addShutdownHook(hook);
      parent.out.println("worker " + rank + "/" + addresses.size() + " ready: transport " + config.listen()
          + ", http " + process.httpAddress()
          + (process.controlAddress() == null ? ", plain transport, no control API" : ", https " + process.controlAddress())
          + (process.apiAddress() == null ? "" : ", api " + process.apiAddress())
          + ", " + model.config().architecture().modelType());
      parent.out.flush();
      process.awaitShutdown();
    }
    return 0;
  }

  /** {@code host:port}, with a message naming the option on a mistake. */
  static InetSocketAddress address(String s, String option) {
    int colon = s.lastIndexOf(':');
    if (colon <= 0 || colon == s.length() - 1) {
      throw new IllegalArgumentException(option + ": '" + s + "' is not HOST:PORT");
    }
    int port;
    try {
      port = Integer.parseInt(s.substring(colon + 1));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(option + ": '" + s + "' has no port number after the ':'");
    }
    if (port < 0 || port > 65535) {
      throw new IllegalArgumentException(option + ": port " + port + " is not in 0..65535");
    }
    String host = s.substring(0, colon);
    if (host.startsWith("[") && host.endsWith("]")) {
      host = host.substring(1, host.length() - 1);
    }
    return new InetSocketAddress(host, port);
  }
}

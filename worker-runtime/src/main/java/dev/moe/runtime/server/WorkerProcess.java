package dev.moe.runtime.server;

import dev.moe.placement.Placement;
import dev.moe.placement.PlacementJson;
import dev.moe.runtime.api.ApiOptions;
import dev.moe.runtime.api.OpenAiServer;
import dev.moe.runtime.model.Checkpoint;
import dev.moe.runtime.parallel.ExpertModel;
import dev.moe.runtime.parallel.GroupPlacement;
import dev.moe.runtime.parallel.Message.ActivePlacement;
import dev.moe.runtime.parallel.NettyTransport;
import dev.moe.runtime.parallel.WorkerNode;
import dev.moe.runtime.parallel.WorkerOptions;
import dev.moe.runtime.scheduler.Engine;
import dev.moe.runtime.tls.ModelTls;
import dev.moe.runtime.tokenizer.TextTokenizer;
import dev.moe.stats.RoutingStats;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.logging.Logger;

/**
 * One worker as a process serves it ({@code serve}): its HTTP endpoints (up first, so that probes
 * see it loading), its {@link WorkerNode}, and its transport to the group. {@link #shutdown} is
 * graceful: not ready, no new steps, the steps in flight finish, then the transport closes.
 */
public final class WorkerProcess implements AutoCloseable {

  private static final Logger LOG = Logger.getLogger(WorkerProcess.class.getName());

  /** How long a starting worker waits for a peer to say which placement the group serves. */
  static final Duration REJOIN_TIMEOUT = Duration.ofSeconds(1);

  /**
   * @param peers every worker's transport address, by rank
   * @param listen where this worker's transport listens (usually {@code peers.get(rank)}, or the
   *     wildcard address with its port)
   * @param http plain HTTP: probes and metrics
   * @param control HTTPS, with {@code tls}: the probes' endpoints and {@code /stats} and {@code
   *     /placement}
   * @param placementVersion the version {@code placement} is served as
   * @param token guards {@code /stats} and {@code /placement}; null disables them
   * @param stageBudgetBytes weight bytes staged per step when a placement is posted over HTTP
   * @param tls the model's TLS identity: mutual TLS on the transport, HTTPS on {@code control};
   *     null: plain transport and no control API (workers of one machine)
   */
  public record Config(int rank, List<InetSocketAddress> peers, InetSocketAddress listen, InetSocketAddress http,
      InetSocketAddress control, Placement placement, long placementVersion, WorkerOptions options, BearerToken token,
      Duration connectTimeout, long stageBudgetBytes, ModelTls tls) {}

  /**
   * What the worker serves besides its experts' rows: its own requests, through the serving
   * engine (the checkpoint stays open while the process runs), and the OpenAI-compatible API on
   * {@code api} (null: the engine alone).
   */
  public record Serving(Checkpoint checkpoint, Engine.Options engine, InetSocketAddress api, ApiOptions apiOptions) {

    public Serving(Checkpoint checkpoint, Engine.Options engine) {
      this(checkpoint, engine, null, null);
    }
  }

  private final Config config;
  private final HttpApi http;
  private final HttpApi control;
  private final CountDownLatch stopped = new CountDownLatch(1);
  private volatile WorkerNode node;
  private volatile Engine engine;
  private volatile TextTokenizer tokenizer;
  private volatile OpenAiServer api;
  private volatile String state = "loading weights";

  private WorkerProcess(Config config) {
    this.config = config;
    Api api = new Api();
    this.http = new HttpApi(config.http(), api, null, null);
    try {
      this.control = config.tls() == null ? null : new HttpApi(config.control(), api, config.token(), config.tls());
    } catch (RuntimeException e) {
      http.close();
      throw e;
    }
  }

  /** Serves HTTP at once, then loads the weights and connects to the peers; returns when ready. */
  public static WorkerProcess start(Config config, ExpertModel model) {
    return start(config, model, null);
  }

  /**
   * {@link #start(Config, ExpertModel)}, then, with {@code serving}, the serving engine: the
   * non-expert weights and the KV cache, and its step clock (running on the lowest connected rank).
   */
  public static WorkerProcess start(Config config, ExpertModel model, Serving serving) {
    WorkerProcess p = new WorkerProcess(config);
    try {
      int size = config.peers().size();
      Placement placement = config.placement();
      long version = config.placementVersion();
      if (size > 1) {
        p.state = "asking the group's other workers which placement they serve";
        ActivePlacement group = GroupPlacement.ask(config.peers(), config.rank(), REJOIN_TIMEOUT, config.tls());
        if (group != null && group.version() != version) {
          Placement active = PlacementJson.parse(group.placementJson(), "the group's active placement version "
              + group.version(), model.experts(), 0);
          if (active.gpus() == size) {
            placement = active;
            version = group.version();
            LOG.info("worker " + config.rank() + " rejoins the group on its active placement version " + version);
          } else {
            // Peers of the group before a resize, still running: this worker starts the group of the new size.
            LOG.info("worker " + config.rank() + " starts a group of " + size + ": its peers' active placement version "
                + group.version() + " is for " + active.gpus() + " GPUs");
          }
        }
      }
      p.state = "loading weights";
      WorkerNode n = new WorkerNode(config.rank(), size, model, placement, version, config.options());
      p.node = n;
      p.state = "connecting to the group's other workers";
      NettyTransport transport = NettyTransport.listen(config.rank(), size, config.listen(), n,
          NettyTransport.DEFAULT_MAX_FRAME_BYTES, config.tls());
      n.attach(transport);
      transport.peers(config.peers());
      transport.connect(config.connectTimeout());
      if (serving != null) {
        p.state = "loading the serving engine";
        p.engine = Engine.start(n, serving.checkpoint(), serving.engine());
        if (serving.api() != null) {
          p.state = "starting the OpenAI API";
          p.tokenizer = TextTokenizer.load(serving.checkpoint().directory());
          p.api = OpenAiServer.start(serving.api(), p.engine, p.tokenizer, serving.apiOptions());
        }
      }
      p.state = null;
      return p;
    } catch (RuntimeException e) {
      p.close();
      throw e;
    }
  }

  public InetSocketAddress httpAddress() {
    return http.address();
  }

  /** Where the HTTPS control API listens; null without TLS. */
  public InetSocketAddress controlAddress() {
    return control == null ? null : control.address();
  }

  /** The serving engine; null without one. */
  public Engine engine() {
    return engine;
  }

  /** Where the OpenAI-compatible API listens; null without one. */
  public InetSocketAddress apiAddress() {
    OpenAiServer a = api;
    return a == null ? null : a.address();
  }

  /**
   * Graceful stop: new requests are refused, the requests being generated finish (for up to
   * {@code grace}), then the steps in flight, then the transport closes.
   */
  public void shutdown(Duration grace) {
    state = "shutting down";
    long deadline = System.nanoTime() + grace.toNanos();
    OpenAiServer a = api;
    if (a != null) {
      a.close();  // refuses new requests; those in flight finish within its grace
    }
    Engine e = engine;
    if (e != null) {
      e.drain(Duration.ofNanos(Math.max(0, deadline - System.nanoTime())));
      e.close();
    }
    TextTokenizer t = tokenizer;
    if (t != null) {
      t.close();
    }
    WorkerNode n = node;
    if (n != null) {
      n.shutdown(Duration.ofNanos(Math.max(0, deadline - System.nanoTime())));
    }
    http.stop(1);
    if (control != null) {
      control.stop(1);
    }
    stopped.countDown();
    LOG.info("worker " + config.rank() + " stopped");
  }

  /** Blocks until {@link #shutdown} has finished. */
  public void awaitShutdown() throws InterruptedException {
    stopped.await();
  }

  @Override
  public void close() {
    shutdown(Duration.ZERO);
  }

  /** The node behind the HTTP endpoints, and what they say while there is none yet. */
  private final class Api implements WorkerApi {

    @Override
    public String notReadyReason() {
      String s = state;
      WorkerNode n = node;
      return s != null ? s : n == null ? "loading weights" : n.notReadyReason();
    }

    @Override
    public byte[] metrics() {
      WorkerNode n = node;
      return n == null ? new byte[0] : n.metrics().scrape();
    }

    @Override
    public String metricsContentType() {
      WorkerNode n = node;
      return n == null ? "text/plain; version=0.0.4; charset=utf-8" : n.metrics().contentType();
    }

    @Override
    public RoutingStats routingStats(boolean reset, boolean transitions) {
      return loaded().routingStats(reset, transitions);
    }

    @Override
    public void stagePlacement(long version, byte[] placementJson) {
      loaded().stagePlacement(version, placementJson);
    }

    @Override
    public String placementStatusJson() {
      return loaded().placementStatusJson();
    }

    @Override
    public String activePlacementJson() {
      return loaded().activePlacementJson();
    }

    private NodeApi loaded() {
      WorkerNode n = node;
      if (n == null) {
        throw new IllegalStateException("worker " + config.rank() + " is still loading its weights");
      }
      return new NodeApi(n, config.stageBudgetBytes());
    }
  }
}

package dev.moe.runtime.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moe.runtime.scheduler.EngineRejectedException;
import dev.moe.runtime.scheduler.GenerationHandle;
import dev.moe.runtime.scheduler.GenerationRequest;
import dev.moe.runtime.scheduler.InferenceEngine;
import dev.moe.runtime.server.BearerToken;
import dev.moe.runtime.tokenizer.TextTokenizer;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.util.concurrent.GlobalEventExecutor;
import java.net.InetSocketAddress;
import java.util.ArrayDeque;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The OpenAI-compatible HTTP API of an {@link InferenceEngine}, on Netty:
 *
 * <ul>
 *   <li>{@code POST /v1/completions}, {@code POST /v1/chat/completions}: whole responses or
 *       server-sent events ({@code stream}), OpenAI's shapes, usage, logprobs, stop strings;
 *   <li>{@code GET /v1/models} (the one model), {@code GET /v1/models/{id}};
 *   <li>{@code GET /health}: 200 while the engine serves, 503 with its reason otherwise.
 * </ul>
 *
 * <p>Errors are OpenAI's {@code {"error": {...}}} with the status OpenAI uses. Requests are parsed,
 * templated and tokenized on virtual threads, never on the event loops; the engine's tokens are
 * turned into text on the connection's event loop. A client that disconnects cancels its request
 * as soon as Netty sees the connection close.
 */
public final class OpenAiServer implements AutoCloseable {

  private static final Logger LOG = Logger.getLogger(OpenAiServer.class.getName());

  private final InferenceEngine engine;
  private final TextTokenizer tokenizer;
  private final ApiOptions options;
  private final String model;
  private final long created = System.currentTimeMillis() / 1000;
  private final RequestParser parser;
  private final EventLoopGroup boss;
  private final EventLoopGroup workers;
  private final ExecutorService requests = Executors.newThreadPerTaskExecutor(
      Thread.ofVirtual().name("openai-request-", 0).factory());
  private final ChannelGroup connections = new DefaultChannelGroup("openai", GlobalEventExecutor.INSTANCE);
  private final Set<GenerationHandle> inFlight = ConcurrentHashMap.newKeySet();
  private final Channel listener;
  private volatile boolean closing;

  private OpenAiServer(InetSocketAddress bind, InferenceEngine engine, TextTokenizer tokenizer, ApiOptions options) {
    this.engine = engine;
    this.tokenizer = tokenizer;
    this.options = options;
    this.model = options.servedModelName() != null ? options.servedModelName() : engine.modelId();
    this.parser = new RequestParser(engine, tokenizer, model);
    boss = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    workers = new MultiThreadIoEventLoopGroup(Math.min(4, Runtime.getRuntime().availableProcessors()),
        NioIoHandler.newFactory());
    try {
      listener = new ServerBootstrap()
          .group(boss, workers)
          .channel(NioServerSocketChannel.class)
          .childHandler(new ChannelInitializer<SocketChannel>() {
            @Override
            protected void initChannel(SocketChannel ch) {
              connections.add(ch);
              ch.pipeline().addLast(new HttpServerCodec(), new BodyLimit(options.maxBodyBytes()), new Connection());
            }
          })
          .bind(bind).syncUninterruptibly().channel();
    } catch (RuntimeException e) {
      shutdownGroups();
      throw new IllegalArgumentException("cannot listen for the OpenAI API on " + bind + ": " + e.getMessage(), e);
    }
  }

  /**
   * Listens on {@code bind} (port 0: any free port, see {@link #address()}).
   *
   * @param tokenizer the model's tokenizer (its chat template serves /v1/chat/completions)
   * @throws IllegalArgumentException the address cannot be bound
   */
  public static OpenAiServer start(InetSocketAddress bind, InferenceEngine engine, TextTokenizer tokenizer,
      ApiOptions options) {
    return new OpenAiServer(bind, engine, tokenizer, options);
  }

  public InetSocketAddress address() {
    return (InetSocketAddress) listener.localAddress();
  }

  /** The model name requests must use (or leave out). */
  public String modelName() {
    return model;
  }

  /**
   * Stops taking connections, lets requests in flight finish for up to the options' grace, then
   * cancels what is left and closes every connection.
   */
  @Override
  public void close() {
    closing = true;
    listener.close().syncUninterruptibly();
    long deadline = System.nanoTime() + options.shutdownGrace().toNanos();
    while (!inFlight.isEmpty() && System.nanoTime() < deadline) {
      try {
        Thread.sleep(10);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
    }
    inFlight.forEach(GenerationHandle::cancel);
    connections.close().syncUninterruptibly();
    requests.shutdown();
    shutdownGroups();
  }

  private void shutdownGroups() {
    boss.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    workers.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
  }

  /** Bodies over the limit: OpenAI's error shape with 413, then the connection closes. */
  private static final class BodyLimit extends HttpObjectAggregator {
    private final int max;

    BodyLimit(int max) {
      super(max);
      this.max = max;
    }

    @Override
    protected void handleOversizedMessage(ChannelHandlerContext ctx, HttpMessage oversized) {
      HttpReplies.error(ctx.channel(), new ApiException(HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE,
          "invalid_request_error", "the request body is over " + max + " bytes", null, "request_too_large"),
          false);
    }
  }

  /**
   * One connection's requests, one at a time in order (a client that sends the next request before
   * the answer to the last waits for it).
   */
  private final class Connection extends SimpleChannelInboundHandler<FullHttpRequest> {
    private final ArrayDeque<FullHttpRequest> waiting = new ArrayDeque<>();
    private boolean busy;
    private Channel channel;

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
      channel = ctx.channel();
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
      request.retain();
      if (busy) {
        waiting.add(request);
      } else {
        serve(request);
      }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      waiting.forEach(FullHttpRequest::release);
      waiting.clear();
      ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      LOG.log(Level.FINE, "OpenAI API connection from " + ctx.channel().remoteAddress() + " failed", cause);
      ctx.close();
    }

    /** On the event loop: the response to the current request is written; take the next. */
    private void done() {
      busy = false;
      FullHttpRequest next = waiting.poll();
      if (next != null && channel.isActive()) {
        serve(next);
      } else if (next != null) {
        next.release();
      }
    }

    private void doneLater() {
      channel.eventLoop().execute(this::done);
    }

    private void serve(FullHttpRequest request) {
      busy = true;
      boolean keepAlive = HttpUtil.isKeepAlive(request);
      try {
        if (request.decoderResult().isFailure()) {
          reply(ApiException.invalid("malformed HTTP request", null), false);
          return;
        }
        String path = new QueryStringDecoder(request.uri()).path();
        HttpMethod method = request.method();
        if (path.equals("/health")) {
          allow(method, HttpMethod.GET);
          String reason = engine.notReadyReason();
          if (reason != null) {
            throw ApiException.unavailable("not ready: " + reason);
          }
          HttpReplies.json(channel, HttpResponseStatus.OK, Responses.JSON.createObjectNode().put("status", "ok"),
              keepAlive);
          done();
          return;
        }
        if (!path.equals("/v1") && !path.startsWith("/v1/")) {
          throw notFound(path);
        }
        authorize(request);
        switch (path) {
          case "/v1/models" -> {
            allow(method, HttpMethod.GET);
            HttpReplies.json(channel, HttpResponseStatus.OK, Responses.models(model, created, engine.maxModelLength()),
                keepAlive);
            done();
          }
          case "/v1/completions", "/v1/chat/completions" -> {
            allow(method, HttpMethod.POST);
            byte[] body = ByteBufUtil.getBytes(request.content());
            boolean chat = path.equals("/v1/chat/completions");
            requests.execute(() -> generate(body, chat, keepAlive));
          }
          default -> {
            if (path.startsWith("/v1/models/")) {
              allow(method, HttpMethod.GET);
              String id = path.substring("/v1/models/".length());
              if (!id.equals(model)) {
                throw new ApiException(HttpResponseStatus.NOT_FOUND, "invalid_request_error",
                    "The model `" + id + "` does not exist.", "model", "model_not_found");
              }
              HttpReplies.json(channel, HttpResponseStatus.OK, Responses.model(model, created, engine.maxModelLength()),
                  keepAlive);
              done();
            } else {
              throw notFound(path);
            }
          }
        }
      } catch (ApiException e) {
        reply(e, keepAlive);
      } finally {
        request.release();
      }
    }

    private void reply(ApiException e, boolean keepAlive) {
      HttpReplies.error(channel, e, keepAlive);
      if (channel.eventLoop().inEventLoop()) {
        done();
      } else {
        doneLater();
      }
    }

    /** On a virtual thread: parse, template, tokenize, submit; the response comes from the Generation. */
    private void generate(byte[] body, boolean chat, boolean keepAlive) {
      String id = (chat ? "chatcmpl-" : "cmpl-") + UUID.randomUUID().toString().replace("-", "");
      try {
        GenerationPlan plan = chat ? parser.chat(parse(body)) : parser.completion(parse(body));
        String notReady = closing ? "the server is shutting down" : engine.notReadyReason();
        if (notReady != null) {
          throw ApiException.unavailable("not ready: " + notReady);
        }
        GenerationHandle[] handle = new GenerationHandle[1];
        Generation generation = new Generation(channel, plan, tokenizer, id, System.currentTimeMillis() / 1000,
            model, keepAlive, () -> {
              inFlight.remove(handle[0]);
              done();
            });
        try {
          handle[0] = engine.submit(new GenerationRequest(id, plan.prompt(), plan.sampling()), generation);
        } catch (EngineRejectedException e) {
          throw switch (e.kind()) {
            case INVALID -> ApiException.invalid(e.getMessage(), null);
            case QUEUE_FULL -> new ApiException(HttpResponseStatus.TOO_MANY_REQUESTS, "rate_limit_error",
                e.getMessage(), null, "rate_limit_exceeded");
            case UNAVAILABLE -> ApiException.unavailable(e.getMessage());
          };
        }
        inFlight.add(handle[0]);
        try {
          generation.start(handle[0]);
        } catch (RejectedExecutionException e) {
          handle[0].cancel(); // the connection's event loop is gone: so is the client
          inFlight.remove(handle[0]);
        }
      } catch (ApiException e) {
        reply(e, keepAlive);
      } catch (RuntimeException e) {
        LOG.log(Level.WARNING, "request " + id + " failed", e);
        reply(new ApiException(HttpResponseStatus.INTERNAL_SERVER_ERROR, "server_error",
            "internal error: " + e.getMessage(), null, null), keepAlive);
      }
    }

    private void authorize(FullHttpRequest request) {
      BearerToken key = options.apiKey();
      if (key != null && !key.accepts(request.headers().get(HttpHeaderNames.AUTHORIZATION))) {
        throw new ApiException(HttpResponseStatus.UNAUTHORIZED, "invalid_request_error",
            "Incorrect API key provided: send it as Authorization: Bearer KEY.", null, "invalid_api_key",
            Map.of(HttpHeaderNames.WWW_AUTHENTICATE.toString(), "Bearer"));
      }
    }
  }

  private static JsonBody parse(byte[] body) {
    JsonNode node;
    try {
      node = Responses.JSON.readTree(body);
    } catch (JsonProcessingException e) {
      throw ApiException.invalid("the request body is not valid JSON: " + e.getOriginalMessage(), null);
    } catch (java.io.IOException e) {
      throw ApiException.invalid("the request body cannot be read: " + e.getMessage(), null);
    }
    if (!(node instanceof ObjectNode object)) {
      throw ApiException.invalid("the request body must be a JSON object", null);
    }
    return new JsonBody(object);
  }

  private static void allow(HttpMethod method, HttpMethod allowed) {
    if (!method.equals(allowed)) {
      throw new ApiException(HttpResponseStatus.METHOD_NOT_ALLOWED, "invalid_request_error",
          method + " is not allowed here; use " + allowed, null, "method_not_allowed",
          Map.of(HttpHeaderNames.ALLOW.toString(), allowed.name()));
    }
  }

  private static ApiException notFound(String path) {
    return new ApiException(HttpResponseStatus.NOT_FOUND, "invalid_request_error", "no endpoint " + path
        + " (try /v1/completions, /v1/chat/completions, /v1/models, /health)", null, "not_found");
  }
}

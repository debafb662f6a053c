package dev.moe.runtime.api;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moe.runtime.sampling.TokenLogprobs;
import dev.moe.runtime.scheduler.FinishReason;
import dev.moe.runtime.scheduler.GenerationHandle;
import dev.moe.runtime.scheduler.TokenSink;
import dev.moe.runtime.tokenizer.IncrementalDetokenizer;
import dev.moe.runtime.tokenizer.StopStrings;
import dev.moe.runtime.tokenizer.TextTokenizer;
import io.netty.channel.Channel;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.RejectedExecutionException;

/**
 * One request between the engine and its HTTP connection. The engine's calls only hand the event
 * to the connection's event loop; there the tokens become text (incremental detokenizer, stop
 * strings) and the response: one JSON body at the end, or server-sent events as they come. A stop
 * string cancels the engine's request at once; so does the connection closing.
 *
 * <p>Everything but {@link #onToken} and {@link #onFinish} runs on the channel's event loop.
 */
final class Generation implements TokenSink {

  private final Channel channel;
  private final GenerationPlan plan;
  private final String id;
  private final long created;
  private final String model;
  private final boolean keepAlive;
  private final IncrementalDetokenizer detokenizer;
  private final StopStrings stops;
  /** Called once, on the event loop, when the response is complete or the connection gone. */
  private final Runnable onDone;

  /** Set before the first event-loop task; read by the engine's thread only if the event loop is gone. */
  private volatile GenerationHandle handle;
  private boolean started;
  private boolean done;
  /** Engine events that came before {@link #start}, in order. */
  private final List<Runnable> early = new ArrayList<>();

  private int completionTokens;
  private int textOffset;
  private final StringBuilder text = new StringBuilder();
  private final List<TokenLogprob> logprobs = new ArrayList<>();

  Generation(Channel channel, GenerationPlan plan, TextTokenizer tokenizer, String id, long created, String model,
      boolean keepAlive, Runnable onDone) {
    this.channel = channel;
    this.plan = plan;
    this.id = id;
    this.created = created;
    this.model = model;
    this.keepAlive = keepAlive;
    this.onDone = onDone;
    this.detokenizer = new IncrementalDetokenizer(tokenizer, plan.prompt(), true);
    this.stops = new StopStrings(plan.stops());
  }

  // ---- The engine's thread: hand over, never block or throw. ----

  @Override
  public void onToken(int token, TokenLogprobs tokenLogprobs) {
    onLoop(() -> token(token, tokenLogprobs));
  }

  @Override
  public void onFinish(FinishReason reason, String message) {
    onLoop(() -> finish(reason, message));
  }

  private void onLoop(Runnable event) {
    try {
      channel.eventLoop().execute(() -> {
        if (started) {
          event.run();
        } else {
          early.add(event);
        }
      });
    } catch (RejectedExecutionException e) {
      // The server is shutting down: the connection is going, and the request with it.
      GenerationHandle h = handle;
      if (h != null) {
        h.cancel();
      }
    }
  }

  // ---- The event loop. ----

  /** After the engine took the request: the stream's head, then the events that came meanwhile. */
  void start(GenerationHandle handle) {
    this.handle = handle;
    channel.eventLoop().execute(() -> {
      started = true;
      channel.closeFuture().addListener(f -> disconnected());
      if (done) {
        return;
      }
      if (plan.stream()) {
        HttpReplies.startEvents(channel, keepAlive);
        if (plan.chat()) {
          chunk(Responses.chatDelta("assistant", "", null, null));
        }
      }
      early.forEach(Runnable::run);
      early.clear();
    });
  }

  private void disconnected() {
    if (!done) {
      done = true;
      handle.cancel();
      onDone.run();
    }
  }

  private void token(int token, TokenLogprobs tokenLogprobs) {
    if (done) {
      return;
    }
    completionTokens++;
    TokenLogprob logprob = null;
    if (plan.logprobs() != null && tokenLogprobs != null) {
      logprob = logprob(token, tokenLogprobs);
    }
    String visible = stops.push(detokenizer.next(token));
    emit(visible, logprob);
    if (stops.stopped()) {
      handle.cancel();
      complete("stop");
    }
  }

  /** The token's text in context (before it is taken) and its alternatives'. */
  private TokenLogprob logprob(int token, TokenLogprobs lp) {
    String shown = detokenizer.tokenText(token);
    List<TokenLogprob.Alternative> top = new ArrayList<>(lp.topTokens().length);
    for (int i = 0; i < lp.topTokens().length; i++) {
      top.add(new TokenLogprob.Alternative(detokenizer.tokenText(lp.topTokens()[i]), lp.topLogprobs()[i]));
    }
    TokenLogprob logprob = new TokenLogprob(shown, lp.logprob(), top, textOffset);
    textOffset += shown.codePointCount(0, shown.length());
    return logprob;
  }

  private void finish(FinishReason reason, String message) {
    if (done) {
      return;
    }
    switch (reason) {
      case STOP, LENGTH -> {
        String tail = stops.push(detokenizer.flush());
        if (!stops.stopped()) {
          tail += stops.flush();
        }
        emit(tail, null);
        complete(stops.stopped() || reason == FinishReason.STOP ? "stop" : "length");
      }
      case CANCELLED -> fail(ApiException.unavailable("the request was cancelled by the server (it is shutting down)"));
      case ERROR -> fail(new ApiException(HttpResponseStatus.INTERNAL_SERVER_ERROR, "server_error",
          "the engine failed the request" + (message == null ? "" : ": " + message), null, null));
      // Retryable: a stream already started ends with the error event and [DONE], a whole response is a 503.
      case UNAVAILABLE -> fail(ApiException.unavailable("the worker could not finish the request, send it again"
          + (message == null ? "" : ": " + message)));
    }
  }

  private void emit(String visible, TokenLogprob logprob) {
    List<TokenLogprob> one = logprob == null ? null : List.of(logprob);
    if (!plan.stream()) {
      text.append(visible);
      if (logprob != null) {
        logprobs.add(logprob);
      }
    } else if (!visible.isEmpty() || logprob != null) {
      chunk(plan.chat() ? Responses.chatDelta(null, visible, one, null)
          : Responses.completionChoice(visible, one, null));
    }
  }

  private void complete(String finishReason) {
    done = true;
    List<TokenLogprob> all = plan.logprobs() == null ? null : logprobs;
    if (plan.stream()) {
      chunk(plan.chat() ? Responses.chatDelta(null, null, null, finishReason)
          : Responses.completionChoice("", null, finishReason));
      if (plan.includeUsage()) {
        ObjectNode usage = head();
        usage.putArray("choices");
        usage.set("usage", Responses.usage(plan.prompt().length, completionTokens));
        HttpReplies.event(channel, usage);
      }
      HttpReplies.endEvents(channel, keepAlive);
    } else {
      ObjectNode body = head();
      body.putArray("choices").add(plan.chat() ? Responses.chatChoice(text.toString(), all, finishReason)
          : Responses.completionChoice(text.toString(), all, finishReason));
      body.set("usage", Responses.usage(plan.prompt().length, completionTokens));
      HttpReplies.json(channel, HttpResponseStatus.OK, body, keepAlive);
    }
    onDone.run();
  }

  private void fail(ApiException e) {
    done = true;
    if (plan.stream()) {
      HttpReplies.event(channel, Responses.error(e.getMessage(), e.type, e.param, e.code));
      HttpReplies.endEvents(channel, keepAlive);
    } else {
      HttpReplies.error(channel, e, keepAlive);
    }
    onDone.run();
  }

  private void chunk(ObjectNode choice) {
    ObjectNode chunk = head();
    chunk.putArray("choices").add(choice);
    if (plan.includeUsage()) {
      chunk.putNull("usage");
    }
    HttpReplies.event(channel, chunk);
  }

  private ObjectNode head() {
    String object = plan.chat() ? (plan.stream() ? "chat.completion.chunk" : "chat.completion") : "text_completion";
    return Responses.head(id, object, created, model);
  }
}

package dev.moe.runtime.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Map;

/** Writing responses: whole JSON bodies, and server-sent events for streams. */
final class HttpReplies {

  private HttpReplies() {}

  static ChannelFuture json(Channel channel, HttpResponseStatus status, JsonNode body, boolean keepAlive) {
    return json(channel, status, body, keepAlive, Map.of());
  }

  static ChannelFuture json(Channel channel, HttpResponseStatus status, JsonNode body, boolean keepAlive,
      Map<String, String> headers) {
    ByteBuf content = Unpooled.wrappedBuffer(bytes(body));
    FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, content);
    response.headers().set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_JSON);
    headers.forEach(response.headers()::set);
    HttpUtil.setContentLength(response, content.readableBytes());
    HttpUtil.setKeepAlive(response, keepAlive);
    ChannelFuture future = channel.writeAndFlush(response);
    if (!keepAlive) {
      future.addListener(ChannelFutureListener.CLOSE);
    }
    return future;
  }

  static ChannelFuture error(Channel channel, ApiException e, boolean keepAlive) {
    return json(channel, e.status, Responses.error(e.getMessage(), e.type, e.param, e.code), keepAlive, e.headers);
  }

  /** The head of a stream of server-sent events (chunked). */
  static void startEvents(Channel channel, boolean keepAlive) {
    HttpResponse response = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
    response.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/event-stream; charset=utf-8");
    response.headers().set(HttpHeaderNames.CACHE_CONTROL, HttpHeaderValues.NO_CACHE);
    HttpUtil.setTransferEncodingChunked(response, true);
    HttpUtil.setKeepAlive(response, keepAlive);
    channel.writeAndFlush(response);
  }

  /** One event: {@code data: JSON} and a blank line. */
  static void event(Channel channel, JsonNode data) {
    event(channel, new String(bytes(data), StandardCharsets.UTF_8));
  }

  static void event(Channel channel, String data) {
    channel.writeAndFlush(new DefaultHttpContent(
        Unpooled.wrappedBuffer(("data: " + data + "\n\n").getBytes(StandardCharsets.UTF_8))));
  }

  /** {@code data: [DONE]} and the end of the chunked body. */
  static void endEvents(Channel channel, boolean keepAlive) {
    event(channel, "[DONE]");
    ChannelFuture future = channel.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT);
    if (!keepAlive) {
      future.addListener(ChannelFutureListener.CLOSE);
    }
  }

  static byte[] bytes(JsonNode node) {
    try {
      return Responses.JSON.writeValueAsBytes(node);
    } catch (JsonProcessingException e) {
      throw new UncheckedIOException(e);
    }
  }
}

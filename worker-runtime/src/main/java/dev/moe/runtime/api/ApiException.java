package dev.moe.runtime.api;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.util.Map;

/**
 * A request the API answers with an error in OpenAI's shape: {@code {"error": {"message", "type",
 * "param", "code"}}}.
 */
final class ApiException extends RuntimeException {

  final HttpResponseStatus status;
  final String type;
  final String param;
  final String code;
  /** Response headers that go with the error (Allow, WWW-Authenticate). */
  final Map<String, String> headers;

  ApiException(HttpResponseStatus status, String type, String message, String param, String code) {
    this(status, type, message, param, code, Map.of());
  }

  ApiException(HttpResponseStatus status, String type, String message, String param, String code,
      Map<String, String> headers) {
    super(message, null, false, false);
    this.status = status;
    this.type = type;
    this.param = param;
    this.code = code;
    this.headers = headers;
  }

  /** Seconds a client is told to wait before sending a refused or cut-off request again. */
  static final int RETRY_AFTER_SECONDS = 2;

  /**
   * 503 with Retry-After: the worker cannot serve now but may soon (its group is missing a peer,
   * it is stopping), so the same request may succeed if sent again, here or to another worker.
   */
  static ApiException unavailable(String message) {
    return new ApiException(HttpResponseStatus.SERVICE_UNAVAILABLE, "service_unavailable_error", message, null,
        "service_unavailable", Map.of(HttpHeaderNames.RETRY_AFTER.toString(), String.valueOf(RETRY_AFTER_SECONDS)));
  }

  /** 400: a parameter is missing, of the wrong type or out of range. */
  static ApiException invalid(String message, String param) {
    return new ApiException(HttpResponseStatus.BAD_REQUEST, "invalid_request_error", message, param, null);
  }

  /** 400: a parameter the server knows but does not support with this value. */
  static ApiException unsupported(String param, String why) {
    return new ApiException(HttpResponseStatus.BAD_REQUEST, "invalid_request_error",
        param + ": " + why, param, "unsupported_parameter");
  }
}

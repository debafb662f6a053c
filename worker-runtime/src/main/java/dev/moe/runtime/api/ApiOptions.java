package dev.moe.runtime.api;

import dev.moe.runtime.server.BearerToken;
import java.time.Duration;

/**
 * How the OpenAI-compatible server runs.
 *
 * @param apiKey null: no authentication; else every {@code /v1} request needs {@code
 *     Authorization: Bearer KEY} (401 otherwise). {@code /health} stays open for probes.
 * @param maxBodyBytes the largest request body taken (413 above it)
 * @param servedModelName the model's name in the API; null: the engine's {@code modelId()}
 * @param shutdownGrace how long {@code close()} lets requests in flight finish before cancelling them
 */
public record ApiOptions(BearerToken apiKey, int maxBodyBytes, String servedModelName, Duration shutdownGrace) {

  /** 16 MiB: a 128k-token conversation is well under 1 MiB of JSON. */
  public static final int DEFAULT_MAX_BODY_BYTES = 16 << 20;

  public ApiOptions {
    if (maxBodyBytes < 1) {
      throw new IllegalArgumentException("the largest request body must be positive, got " + maxBodyBytes);
    }
    if (servedModelName != null && servedModelName.isBlank()) {
      throw new IllegalArgumentException("the served model name must not be blank");
    }
    if (shutdownGrace == null || shutdownGrace.isNegative()) {
      throw new IllegalArgumentException("the shutdown grace must be zero or positive");
    }
  }

  /** No API key, 16 MiB bodies, the engine's model name, 30 s to finish requests on close. */
  public static ApiOptions defaults() {
    return new ApiOptions(null, DEFAULT_MAX_BODY_BYTES, null, Duration.ofSeconds(30));
  }

  public ApiOptions withApiKey(BearerToken key) {
    return new ApiOptions(key, maxBodyBytes, servedModelName, shutdownGrace);
  }

  public ApiOptions withMaxBodyBytes(int bytes) {
    return new ApiOptions(apiKey, bytes, servedModelName, shutdownGrace);
  }

  public ApiOptions withServedModelName(String name) {
    return new ApiOptions(apiKey, maxBodyBytes, name, shutdownGrace);
  }

  public ApiOptions withShutdownGrace(Duration grace) {
    return new ApiOptions(apiKey, maxBodyBytes, servedModelName, grace);
  }
}

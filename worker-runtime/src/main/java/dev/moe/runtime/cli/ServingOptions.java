package dev.moe.runtime.cli;

import dev.moe.runtime.scheduler.Engine;
import dev.moe.runtime.scheduler.Scheduler;
import dev.moe.runtime.tensor.DType;
import java.nio.file.Path;
import java.time.Duration;
import picocli.CommandLine.Option;

/** The serving engine's options, shared by {@code serve} and {@code generate}: KV cache and batch limits. */
public final class ServingOptions {

  @Option(names = "--kv-cache-tokens", defaultValue = "32768", paramLabel = "N",
      description = "Token positions of KV cache on each worker; a request waits until its prompt and max_tokens"
          + " fit (default: ${DEFAULT-VALUE}).")
  long kvCacheTokens;

  @Option(names = "--block-size", defaultValue = "16", paramLabel = "N",
      description = "Token positions per KV-cache block (default: ${DEFAULT-VALUE}).")
  int blockSize;

  @Option(names = "--max-model-len", defaultValue = "0", paramLabel = "N",
      description = "Longest prompt + completion; 0 = the model's max_position_embeddings (default: ${DEFAULT-VALUE}).")
  int maxModelLength;

  @Option(names = "--max-batch-tokens", defaultValue = "2048", paramLabel = "N",
      description = "Tokens per step on a worker: decodes first, then prompt chunks (default: ${DEFAULT-VALUE}).")
  int maxBatchTokens;

  @Option(names = "--max-running", defaultValue = "64", paramLabel = "N",
      description = "Requests a worker generates for at once (default: ${DEFAULT-VALUE}).")
  int maxRunning;

  @Option(names = "--max-waiting", defaultValue = "256", paramLabel = "N",
      description = "Requests a worker queues before answering 429 (default: ${DEFAULT-VALUE}).")
  int maxWaiting;

  @Option(names = "--peer-loss-grace-seconds", defaultValue = "30", paramLabel = "S",
      description = "How long a worker's requests wait for a lost peer of the group to return, or for a placement"
          + " that leaves it out, before they end with a retryable error (503 / an error event); new requests get 503"
          + " meanwhile (default: ${DEFAULT-VALUE}).")
  int peerLossGraceSeconds;

  @Option(names = "--served-model-name", paramLabel = "NAME",
      description = "The model's name in the API (default: the checkpoint directory's name).")
  String servedModelName;

  /** The engine's options for {@code checkpoint}; bad values are one-line errors naming the option. */
  public Engine.Options engine(Path checkpoint, DType storage) {
    if (kvCacheTokens < 1 || blockSize < 1 || maxModelLength < 0 || maxBatchTokens < 1 || maxRunning < 1
        || maxWaiting < 0 || peerLossGraceSeconds < 1) {
      throw new IllegalArgumentException("--kv-cache-tokens, --block-size, --max-batch-tokens, --max-running and"
          + " --peer-loss-grace-seconds must be positive, --max-model-len and --max-waiting 0 or more");
    }
    if (kvCacheTokens < blockSize) {
      throw new IllegalArgumentException("--kv-cache-tokens " + kvCacheTokens + " holds no block of --block-size "
          + blockSize);
    }
    String name = servedModelName != null ? servedModelName
        : checkpoint.toAbsolutePath().normalize().getFileName().toString();
    return new Engine.Options(name, storage, kvCacheTokens, blockSize, maxModelLength,
        new Scheduler.Limits(maxBatchTokens, maxRunning, maxWaiting), Duration.ofSeconds(peerLossGraceSeconds));
  }
}

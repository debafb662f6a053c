package dev.moe.runtime.scheduler;

/**
 * What the OpenAI API serves: a worker's continuous-batching engine. Requests are taken from any
 * thread; their tokens reach their {@link TokenSink} from the engine's step thread.
 */
public interface InferenceEngine {

  /** The model's name in the API ({@code model} of requests and of {@code /v1/models}). */
  String modelId();

  /** The most tokens of prompt and completion together one request may hold. */
  int maxModelLength();

  /** Logits per position, i.e. token ids are in {@code [0, vocabSize)}. */
  int vocabSize();

  /** Null when requests are served; otherwise why not (loading, waiting for peers, stopping). */
  String notReadyReason();

  /**
   * Queues {@code request}; it runs once the KV cache has room for its prompt and maxTokens.
   *
   * @throws EngineRejectedException the request is refused (see its kind)
   */
  GenerationHandle submit(GenerationRequest request, TokenSink sink);
}

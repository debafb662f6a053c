package dev.moe.runtime.sampling;

/**
 * How one request's tokens are chosen and when it ends, as the OpenAI API (and vLLM's extensions)
 * names the parameters. Built by the API from a request, checked by {@link #validate}, and handed
 * to the engine with the request.
 *
 * @param temperature 0 picks the most likely token (greedy); otherwise logits are divided by it
 * @param topP keep the smallest set of most likely tokens whose probability reaches topP (1: all)
 * @param topK keep the topK most likely tokens (0: all)
 * @param seed seeds this request's random choices; null: a random seed
 * @param maxTokens most tokens to generate
 * @param stopTokenIds token ids that end the request (besides the model's end-of-sequence tokens);
 *     the stop token itself is part of the output
 * @param ignoreEos keep generating past the model's end-of-sequence tokens
 * @param logprobs null: no log probabilities; n >= 0: the chosen token's and the n most likely
 *     tokens' log probabilities (log-softmax of the model's raw logits, before penalties and
 *     temperature)
 * @param presencePenalty subtracted once from the logit of every token generated so far (-2..2)
 * @param frequencyPenalty subtracted from a token's logit once per time it was generated (-2..2)
 */
public record SamplingParams(float temperature, float topP, int topK, Long seed, int maxTokens, int[] stopTokenIds,
    boolean ignoreEos, Integer logprobs, float presencePenalty, float frequencyPenalty) {

  /** The most top log probabilities one token may ask for (OpenAI's limit is 20). */
  public static final int MAX_LOGPROBS = 20;

  public SamplingParams {
    stopTokenIds = stopTokenIds == null ? new int[0] : stopTokenIds.clone();
  }

  /** Greedy decoding of at most {@code maxTokens} tokens, stopping at end-of-sequence. */
  public static SamplingParams greedy(int maxTokens) {
    return new SamplingParams(0f, 1f, 0, null, maxTokens, null, false, null, 0f, 0f);
  }

  public boolean greedy() {
    return temperature == 0f;
  }

  @Override
  public int[] stopTokenIds() {
    return stopTokenIds.clone();
  }

  /**
   * Refuses values no request may carry, naming the OpenAI parameter in the message.
   *
   * @throws IllegalArgumentException what is wrong, as a message for the client
   */
  public void validate(int vocabSize) {
    if (!(temperature >= 0f) || temperature > 100f) {
      throw new IllegalArgumentException("temperature must be between 0 and 100, got " + temperature);
    }
    if (!(topP > 0f) || topP > 1f) {
      throw new IllegalArgumentException("top_p must be in (0, 1], got " + topP);
    }
    if (topK < 0) {
      throw new IllegalArgumentException("top_k must be 0 (all tokens) or positive, got " + topK);
    }
    if (maxTokens < 1) {
      throw new IllegalArgumentException("max_tokens must be at least 1, got " + maxTokens);
    }
    for (int id : stopTokenIds) {
      if (id < 0 || id >= vocabSize) {
        throw new IllegalArgumentException("stop_token_ids: " + id + " is not a token id of this model (0.."
            + (vocabSize - 1) + ")");
      }
    }
    if (logprobs != null && (logprobs < 0 || logprobs > MAX_LOGPROBS)) {
      throw new IllegalArgumentException("top_logprobs must be between 0 and " + MAX_LOGPROBS + ", got " + logprobs);
    }
    if (!(presencePenalty >= -2f && presencePenalty <= 2f)) {
      throw new IllegalArgumentException("presence_penalty must be between -2 and 2, got " + presencePenalty);
    }
    if (!(frequencyPenalty >= -2f && frequencyPenalty <= 2f)) {
      throw new IllegalArgumentException("frequency_penalty must be between -2 and 2, got " + frequencyPenalty);
    }
  }
}

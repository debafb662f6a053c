package dev.moe.runtime.scheduler;

import dev.moe.runtime.sampling.TokenLogprobs;

/**
 * Receives one request's output as the engine produces it. Calls come from the engine's step
 * thread, in order, and must return quickly (hand slow work, such as network writes, elsewhere).
 */
public interface TokenSink {

  /** A generated token; {@code logprobs} is null unless the request asked for them. */
  void onToken(int token, TokenLogprobs logprobs);

  /** The request ended; nothing follows. {@code message} explains an ERROR or UNAVAILABLE, else null. */
  void onFinish(FinishReason reason, String message);
}

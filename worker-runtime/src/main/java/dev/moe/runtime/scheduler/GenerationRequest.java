package dev.moe.runtime.scheduler;

import dev.moe.runtime.sampling.SamplingParams;

/**
 * One generation: the prompt's token ids and how to continue it.
 *
 * @param id the client-visible request id (for logs and errors)
 */
public record GenerationRequest(String id, int[] prompt, SamplingParams sampling) {

  public GenerationRequest {
    prompt = prompt.clone();
  }

  @Override
  public int[] prompt() {
    return prompt.clone();
  }

  public int promptLength() {
    return prompt.length;
  }
}

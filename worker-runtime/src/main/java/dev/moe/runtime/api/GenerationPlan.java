package dev.moe.runtime.api;

import dev.moe.runtime.sampling.SamplingParams;
import java.util.List;

/**
 * What a completions or chat request asks for, checked: the prompt's ids and how to generate and
 * answer.
 *
 * @param chat the chat endpoint's shapes (else the completions endpoint's)
 * @param stops OpenAI's stop strings (possibly empty)
 * @param logprobs null: none; else how many top alternatives per token
 */
record GenerationPlan(boolean chat, int[] prompt, SamplingParams sampling, boolean stream, boolean includeUsage,
    List<String> stops, Integer logprobs) {}

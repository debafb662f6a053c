package dev.moe.runtime.api;

import java.util.List;

/**
 * One generated token's log probability as the API shows it: the token's text in context, its
 * offset in the output text, and the most likely alternatives.
 */
record TokenLogprob(String token, float logprob, List<Alternative> top, int textOffset) {

  record Alternative(String token, float logprob) {}
}

package dev.moe.runtime.api;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.util.List;

/** OpenAI's response bodies: completions, chat completions, their stream chunks, models, errors. */
final class Responses {

  static final ObjectMapper JSON = new ObjectMapper();

  /** What the API shows for a log probability of -inf or NaN (vLLM's value): JSON has no infinity. */
  static final float FLOOR = -9999f;

  private Responses() {}

  static ObjectNode error(String message, String type, String param, String code) {
    ObjectNode body = JSON.createObjectNode();
    ObjectNode error = body.putObject("error");
    error.put("message", message);
    error.put("type", type);
    error.put("param", param);
    error.put("code", code);
    return body;
  }

  static ObjectNode models(String model, long created, int maxModelLength) {
    ObjectNode body = JSON.createObjectNode();
    body.put("object", "list");
    body.putArray("data").add(model(model, created, maxModelLength));
    return body;
  }

  static ObjectNode model(String model, long created, int maxModelLength) {
    ObjectNode m = JSON.createObjectNode();
    m.put("id", model);
    m.put("object", "model");
    m.put("created", created);
    m.put("owned_by", "moe-operator");
    m.put("max_model_len", maxModelLength);
    return m;
  }

  /** The fields every completion, chunk included, starts with. */
  static ObjectNode head(String id, String object, long created, String model) {
    ObjectNode body = JSON.createObjectNode();
    body.put("id", id);
    body.put("object", object);
    body.put("created", created);
    body.put("model", model);
    return body;
  }

  static ObjectNode usage(int prompt, int completion) {
    ObjectNode usage = JSON.createObjectNode();
    usage.put("prompt_tokens", prompt);
    usage.put("completion_tokens", completion);
    usage.put("total_tokens", prompt + completion);
    return usage;
  }

  /** A completions choice: text, logprobs (null when not asked), finish reason (null while streaming). */
  static ObjectNode completionChoice(String text, List<TokenLogprob> logprobs, String finishReason) {
    ObjectNode choice = JSON.createObjectNode();
    choice.put("index", 0);
    choice.put("text", text);
    if (logprobs == null) {
      choice.putNull("logprobs");
    } else {
      ObjectNode lp = choice.putObject("logprobs");
      ArrayNode tokens = lp.putArray("tokens");
      ArrayNode tokenLogprobs = lp.putArray("token_logprobs");
      ArrayNode top = lp.putArray("top_logprobs");
      ArrayNode offsets = lp.putArray("text_offset");
      for (TokenLogprob t : logprobs) {
        tokens.add(t.token());
        tokenLogprobs.add(finite(t.logprob()));
        // A dict, as OpenAI's: the alternatives and the chosen token (alternatives with equal text merge).
        ObjectNode alternatives = top.addObject();
        for (TokenLogprob.Alternative a : t.top()) {
          if (!alternatives.has(a.token())) {
            alternatives.put(a.token(), finite(a.logprob()));
          }
        }
        if (!alternatives.has(t.token())) {
          alternatives.put(t.token(), finite(t.logprob()));
        }
        offsets.add(t.textOffset());
      }
    }
    choice.put("finish_reason", finishReason);
    return choice;
  }

  /** A chat choice's logprobs: {"content": [{token, logprob, bytes, top_logprobs}], "refusal": null}. */
  static ObjectNode chatLogprobs(List<TokenLogprob> logprobs) {
    ObjectNode lp = JSON.createObjectNode();
    ArrayNode content = lp.putArray("content");
    for (TokenLogprob t : logprobs) {
      ObjectNode entry = content.addObject();
      chatToken(entry, t.token(), t.logprob());
      ArrayNode top = entry.putArray("top_logprobs");
      for (TokenLogprob.Alternative a : t.top()) {
        chatToken(top.addObject(), a.token(), a.logprob());
      }
    }
    lp.putNull("refusal");
    return lp;
  }

  private static void chatToken(ObjectNode node, String token, float logprob) {
    node.put("token", token);
    node.put("logprob", finite(logprob));
    ArrayNode bytes = node.putArray("bytes");
    for (byte b : token.getBytes(StandardCharsets.UTF_8)) {
      bytes.add(b & 0xff);
    }
  }

  static ObjectNode chatChoice(String content, List<TokenLogprob> logprobs, String finishReason) {
    ObjectNode choice = JSON.createObjectNode();
    choice.put("index", 0);
    ObjectNode message = choice.putObject("message");
    message.put("role", "assistant");
    message.put("content", content);
    message.putNull("refusal");
    return chatEnd(choice, logprobs, finishReason);
  }

  /** A chat chunk's choice: the delta (role and/or content, or nothing), logprobs, finish reason. */
  static ObjectNode chatDelta(String role, String content, List<TokenLogprob> logprobs, String finishReason) {
    ObjectNode choice = JSON.createObjectNode();
    choice.put("index", 0);
    ObjectNode delta = choice.putObject("delta");
    if (role != null) {
      delta.put("role", role);
    }
    if (content != null) {
      delta.put("content", content);
    }
    return chatEnd(choice, logprobs, finishReason);
  }

  private static ObjectNode chatEnd(ObjectNode choice, List<TokenLogprob> logprobs, String finishReason) {
    if (logprobs == null) {
      choice.putNull("logprobs");
    } else {
      choice.set("logprobs", chatLogprobs(logprobs));
    }
    choice.put("finish_reason", finishReason);
    return choice;
  }

  static float finite(float logprob) {
    return Float.isFinite(logprob) ? logprob : FLOOR;
  }
}

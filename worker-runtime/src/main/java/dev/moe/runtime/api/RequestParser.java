package dev.moe.runtime.api;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.moe.runtime.sampling.SamplingParams;
import dev.moe.runtime.scheduler.InferenceEngine;
import dev.moe.runtime.tokenizer.ChatTemplate;
import dev.moe.runtime.tokenizer.TextTokenizer;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The request bodies of {@code /v1/completions} and {@code /v1/chat/completions} as OpenAI defines
 * them (with vLLM's extensions top_k, ignore_eos, stop_token_ids, chat_template_kwargs): unknown
 * fields are ignored, known ones that this server does not support are refused when they ask for
 * something (n > 1, echo, suffix, best_of > 1, logit_bias).
 */
final class RequestParser {

  /** OpenAI's limit on stop strings. */
  static final int MAX_STOPS = 4;
  /** OpenAI's limit on the completions endpoint's logprobs. */
  static final int MAX_COMPLETION_LOGPROBS = 5;

  private static final ObjectMapper JSON = new ObjectMapper();

  private final InferenceEngine engine;
  private final TextTokenizer tokenizer;
  private final String modelName;

  RequestParser(InferenceEngine engine, TextTokenizer tokenizer, String modelName) {
    this.engine = engine;
    this.tokenizer = tokenizer;
    this.modelName = modelName;
  }

  GenerationPlan completion(JsonBody body) {
    checkModel(body);
    if (Boolean.TRUE.equals(body.bool("echo"))) {
      throw ApiException.unsupported("echo", "echoing the prompt is not supported");
    }
    String suffix = body.string("suffix");
    if (suffix != null && !suffix.isEmpty()) {
      throw ApiException.unsupported("suffix", "suffixes (insertion) are not supported");
    }
    Integer bestOf = body.integer("best_of");
    if (bestOf != null && bestOf != 1) {
      throw ApiException.unsupported("best_of", "only best_of 1 is supported");
    }
    Integer logprobs = body.integer("logprobs");
    if (logprobs != null && (logprobs < 0 || logprobs > MAX_COMPLETION_LOGPROBS)) {
      throw ApiException.invalid("logprobs must be between 0 and " + MAX_COMPLETION_LOGPROBS + ", got " + logprobs,
          "logprobs");
    }
    int[] prompt = prompt(body);
    Integer maxTokens = body.integer("max_tokens");
    // OpenAI's default is 16; an explicit null (as vLLM takes it) fills the context.
    int max = maxTokens != null ? maxTokens : body.isNull("max_tokens") ? remaining(prompt.length) : 16;
    return plan(body, false, prompt, max, "prompt", logprobs);
  }

  GenerationPlan chat(JsonBody body) {
    checkModel(body);
    ChatTemplate template = tokenizer.chatTemplate();
    if (template == null) {
      throw ApiException.invalid("this model has no chat template: use /v1/completions", "messages");
    }
    List<Map<String, Object>> messages = messages(body);
    Map<String, Object> extra = new HashMap<>();
    JsonNode kwargs = body.get("chat_template_kwargs");
    if (kwargs != null) {
      if (!kwargs.isObject()) {
        throw ApiException.invalid("chat_template_kwargs must be an object", "chat_template_kwargs");
      }
      extra.putAll(JSON.convertValue(kwargs, new TypeReference<LinkedHashMap<String, Object>>() {}));
    }
    JsonNode tools = body.get("tools");
    if (tools != null) {
      if (!tools.isArray()) {
        throw ApiException.invalid("tools must be an array", "tools");
      }
      extra.put("tools", JSON.convertValue(tools, new TypeReference<List<Object>>() {}));
    }
    Boolean addGenerationPrompt = body.bool("add_generation_prompt");
    String text;
    try {
      text = template.render(messages, addGenerationPrompt == null || addGenerationPrompt, extra);
    } catch (IllegalArgumentException e) {
      throw ApiException.invalid(e.getMessage(), "messages");
    }
    // The template wrote the special tokens (BOS) it wants: none are added again, as in vLLM.
    int[] prompt = tokenizer.encode(text, false);
    Integer logprobs = null;
    Boolean wantLogprobs = body.bool("logprobs");
    Integer top = body.integer("top_logprobs");
    if (top != null && !Boolean.TRUE.equals(wantLogprobs)) {
      throw ApiException.invalid("top_logprobs needs logprobs set to true", "top_logprobs");
    }
    if (Boolean.TRUE.equals(wantLogprobs)) {
      logprobs = top == null ? 0 : top;
      if (logprobs < 0 || logprobs > SamplingParams.MAX_LOGPROBS) {
        throw ApiException.invalid("top_logprobs must be between 0 and " + SamplingParams.MAX_LOGPROBS + ", got "
            + logprobs, "top_logprobs");
      }
    }
    Integer maxTokens = body.has("max_completion_tokens") ? body.integer("max_completion_tokens")
        : body.integer("max_tokens");
    String maxParam = body.has("max_completion_tokens") ? "max_completion_tokens" : "max_tokens";
    int max = maxTokens != null ? maxTokens : remaining(prompt.length);
    if (maxTokens != null && maxTokens < 1) {
      throw ApiException.invalid(maxParam + " must be at least 1, got " + maxTokens, maxParam);
    }
    return plan(body, true, prompt, max, "messages", logprobs);
  }

  /** What fits after a prompt: the context less the prompt, and at least 1 (so that a full context is refused). */
  private int remaining(int promptLength) {
    return Math.max(1, engine.maxModelLength() - promptLength);
  }

  private GenerationPlan plan(JsonBody body, boolean chat, int[] prompt, int maxTokens, String promptParam,
      Integer logprobs) {
    Integer n = body.integer("n");
    if (n != null && n != 1) {
      throw ApiException.unsupported("n", "only n = 1 is supported");
    }
    JsonNode bias = body.get("logit_bias");
    if (bias != null && !(bias.isObject() && bias.isEmpty())) {
      throw ApiException.unsupported("logit_bias", "logit biases are not supported");
    }
    JsonNode format = body.get("response_format");
    if (format != null && !"text".equals(format.path("type").asText("text"))) {
      throw ApiException.unsupported("response_format", "only the text response format is supported");
    }
    body.string("user");
    boolean stream = Boolean.TRUE.equals(body.bool("stream"));
    boolean includeUsage = false;
    JsonNode streamOptions = body.get("stream_options");
    if (streamOptions != null) {
      if (!stream) {
        throw ApiException.invalid("stream_options is only allowed when stream is true", "stream_options");
      }
      if (!streamOptions.isObject()) {
        throw ApiException.invalid("stream_options must be an object", "stream_options");
      }
      JsonNode include = streamOptions.get("include_usage");
      if (include != null && !include.isNull() && !include.isBoolean()) {
        throw ApiException.invalid("stream_options.include_usage must be true or false", "stream_options");
      }
      includeUsage = include != null && include.asBoolean(false);
    }
    List<String> stops = body.strings("stop", MAX_STOPS);
    if (maxTokens < 1) {
      throw ApiException.invalid("max_tokens must be at least 1, got " + maxTokens, "max_tokens");
    }
    int limit = engine.maxModelLength();
    if ((long) prompt.length + maxTokens > limit) {
      throw new ApiException(HttpResponseStatus.BAD_REQUEST, "invalid_request_error",
          "This model's maximum context length is " + limit + " tokens. However, you requested "
              + ((long) prompt.length + maxTokens) + " tokens (" + prompt.length + " in the " + promptParam + ", "
              + maxTokens + " in the completion). Please reduce the length of the " + promptParam
              + " or completion.", promptParam, "context_length_exceeded");
    }
    Double temperature = body.number("temperature");
    Double topP = body.number("top_p");
    Integer topK = body.integer("top_k");
    Double presence = body.number("presence_penalty");
    Double frequency = body.number("frequency_penalty");
    Boolean ignoreEos = body.bool("ignore_eos");
    int[] stopTokenIds = body.integers("stop_token_ids");
    SamplingParams sampling = new SamplingParams(
        temperature == null ? 1f : temperature.floatValue(),
        topP == null ? 1f : topP.floatValue(),
        topK == null || topK == -1 ? 0 : topK, // vLLM's -1 and 0 both mean all tokens
        body.longInteger("seed"),
        maxTokens,
        stopTokenIds,
        Boolean.TRUE.equals(ignoreEos),
        logprobs,
        presence == null ? 0f : presence.floatValue(),
        frequency == null ? 0f : frequency.floatValue());
    try {
      sampling.validate(engine.vocabSize());
    } catch (IllegalArgumentException e) {
      String message = e.getMessage();
      int space = message.indexOf(' ');
      String param = message.substring(0, Math.max(0, space)).replace(":", "");
      throw ApiException.invalid(message, param.isEmpty() ? null : param);
    }
    return new GenerationPlan(chat, prompt, sampling, stream, includeUsage, stops == null ? List.of() : stops,
        logprobs);
  }

  private void checkModel(JsonBody body) {
    String model = body.string("model");
    if (model != null && !model.equals(modelName)) {
      throw new ApiException(HttpResponseStatus.NOT_FOUND, "invalid_request_error",
          "The model `" + model + "` does not exist.", "model", "model_not_found");
    }
  }

  /** The completions prompt: a string (encoded with the tokenizer's special tokens) or token ids. */
  private int[] prompt(JsonBody body) {
    JsonNode node = body.get("prompt");
    if (node == null) {
      throw ApiException.invalid("prompt is required", "prompt");
    }
    int[] ids;
    if (node.isTextual()) {
      ids = tokenizer.encode(node.asText(), true);
    } else if (node.isArray() && node.size() > 0 && allIntegers(node)) {
      ids = body.integers("prompt");
      for (int id : ids) {
        if (id < 0 || id >= engine.vocabSize()) {
          throw ApiException.invalid("prompt: token id " + id + " is not in this model's vocabulary (0.."
              + (engine.vocabSize() - 1) + ")", "prompt");
        }
      }
    } else {
      throw ApiException.invalid("prompt must be a string or an array of token ids"
          + " (batches of prompts are not supported)", "prompt");
    }
    if (ids.length == 0) {
      throw ApiException.invalid("prompt is empty: it encodes to no tokens", "prompt");
    }
    return ids;
  }

  private static boolean allIntegers(JsonNode array) {
    for (JsonNode item : array) {
      if (!item.isIntegralNumber() || !item.canConvertToInt()) {
        return false;
      }
    }
    return true;
  }

  /**
   * The messages as the chat template sees them: every field of each message, content parts of
   * type text joined by newlines (vLLM's string content format).
   */
  private static List<Map<String, Object>> messages(JsonBody body) {
    JsonNode node = body.get("messages");
    if (node == null || !node.isArray() || node.isEmpty()) {
      throw ApiException.invalid("messages must be a non-empty array of messages", "messages");
    }
    List<Map<String, Object>> messages = new ArrayList<>();
    for (int i = 0; i < node.size(); i++) {
      JsonNode m = node.get(i);
      String where = "messages[" + i + "]";
      if (!m.isObject()) {
        throw ApiException.invalid(where + " must be an object with role and content", "messages");
      }
      JsonNode role = m.get("role");
      if (role == null || !role.isTextual()) {
        throw ApiException.invalid(where + ".role must be a string", "messages");
      }
      Map<String, Object> message = JSON.convertValue(m, new TypeReference<LinkedHashMap<String, Object>>() {});
      JsonNode content = m.get("content");
      if (content != null && content.isArray()) {
        List<String> texts = new ArrayList<>();
        for (int j = 0; j < content.size(); j++) {
          JsonNode part = content.get(j);
          String type = part.path("type").asText("");
          if (!"text".equals(type) || !part.path("text").isTextual()) {
            throw ApiException.invalid(where + ".content[" + j + "]: only parts of type text (with a text string)"
                + " are supported" + (type.isEmpty() ? "" : ", not " + type), "messages");
          }
          texts.add(part.get("text").asText());
        }
        message.put("content", String.join("\n", texts));
      } else if (content != null && !content.isTextual() && !content.isNull()) {
        throw ApiException.invalid(where + ".content must be a string or an array of text parts", "messages");
      }
      messages.add(message);
    }
    return messages;
  }
}

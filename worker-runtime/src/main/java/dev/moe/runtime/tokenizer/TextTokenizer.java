package dev.moe.runtime.tokenizer;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.BitSet;
import java.util.Collections;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.stream.StreamSupport;

/**
 * A checkpoint's tokenizer as transformers' fast tokenizer uses it: Hugging Face's tokenizers
 * library (Rust, through DJL's JNI binding, the native library from the jar) on {@code
 * tokenizer.json}, with tokenizer_config.json's special tokens, {@code
 * clean_up_tokenization_spaces} and chat template (or {@code chat_template.jinja}, as transformers
 * 4.57 and 5.x save it).
 *
 * <p>Thread-safe. Close it to free the native tokenizer.
 */
public final class TextTokenizer implements AutoCloseable {

  /** DJL's informational lines (which platform's library it found) are not the worker's news. */
  private static final Logger DJL_LOG = Logger.getLogger("ai.djl");

  static {
    // DJL calls home (EC2 metadata, then a telemetry bucket) on every tokenizer it makes, unless told not to.
    System.setProperty("OPT_OUT_TRACKING", "true");
    System.setProperty("offline", "true");
    DJL_LOG.setLevel(Level.WARNING);
  }

  /** The special tokens of transformers' special_tokens_map, by their keyword. */
  private static final List<String> SPECIAL_KEYS =
      List.of("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token");

  private static final ObjectMapper JSON = new ObjectMapper();

  private final HuggingFaceTokenizer tokenizer;
  private final String[] tokens;
  private final Map<String, Integer> ids;
  private final BitSet special;
  private final int size;
  private final Map<String, Object> specialTokens;
  private final boolean cleanUpSpaces;
  private final ChatTemplate chatTemplate;

  private TextTokenizer(HuggingFaceTokenizer tokenizer, JsonNode tokenizerJson, JsonNode config,
      JsonNode specialTokensMap, String chatTemplateSource) {
    this.tokenizer = tokenizer;
    Map<Integer, String> byId = new HashMap<>();
    JsonNode vocab = tokenizerJson.path("model").path("vocab");
    if (vocab.isObject()) {
      for (Iterator<Map.Entry<String, JsonNode>> it = vocab.fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> e = it.next();
        byId.put(e.getValue().asInt(), e.getKey());
      }
    } else if (vocab.isArray()) { // Unigram: [piece, score] by id
      for (int i = 0; i < vocab.size(); i++) {
        byId.put(i, vocab.get(i).path(0).asText());
      }
    }
    special = new BitSet();
    for (JsonNode added : tokenizerJson.path("added_tokens")) {
      int id = added.path("id").asInt();
      byId.put(id, added.path("content").asText());
      if (added.path("special").asBoolean()) {
        special.set(id);
      }
    }
    size = byId.size();
    int maxId = byId.keySet().stream().mapToInt(Integer::intValue).max().orElse(-1);
    tokens = new String[maxId + 1];
    ids = new HashMap<>(byId.size() * 2);
    byId.forEach((id, token) -> {
      tokens[id] = token;
      ids.put(token, id);
    });
    Map<String, Object> specials = new LinkedHashMap<>();
    for (JsonNode source : new JsonNode[] {config, specialTokensMap}) {
      for (String key : SPECIAL_KEYS) {
        String token = tokenContent(source.get(key));
        if (token != null) {
          specials.put(key, token);
        }
      }
      // transformers 5.x writes the list as extra_special_tokens.
      JsonNode additional = source.has("additional_special_tokens") ? source.get("additional_special_tokens")
          : source.get("extra_special_tokens");
      if (additional != null && additional.isArray()) {
        specials.put("additional_special_tokens",
            StreamSupport.stream(additional.spliterator(), false).map(TextTokenizer::tokenContent).toList());
      }
    }
    this.specialTokens = Collections.unmodifiableMap(specials);
    this.cleanUpSpaces = config.path("clean_up_tokenization_spaces").asBoolean(false);
    this.chatTemplate = chatTemplateSource == null ? null : new ChatTemplate(chatTemplateSource, specials);
  }

  /**
   * The tokenizer of a checkpoint directory (as transformers' save_pretrained writes it).
   *
   * @throws IllegalArgumentException a file is missing or malformed (one line naming it)
   */
  public static TextTokenizer load(Path checkpointDir) {
    Path tokenizerFile = checkpointDir.resolve("tokenizer.json");
    String tokenizerText = read(tokenizerFile, true);
    JsonNode tokenizerJson = parse(tokenizerFile, tokenizerText);
    Path configFile = checkpointDir.resolve("tokenizer_config.json");
    String configText = read(configFile, false);
    JsonNode config = configText == null ? JSON.createObjectNode() : parse(configFile, configText);
    Path mapFile = checkpointDir.resolve("special_tokens_map.json");
    String mapText = read(mapFile, false);
    JsonNode specialTokensMap = mapText == null ? JSON.createObjectNode() : parse(mapFile, mapText);
    String template = read(checkpointDir.resolve("chat_template.jinja"), false);
    if (template == null) {
      template = chatTemplate(config.get("chat_template"), configFile);
    }
    HuggingFaceTokenizer library;
    try {
      // No truncation or padding: DJL's defaults (512 tokens) are not transformers'.
      library = HuggingFaceTokenizer.newInstance(tokenizerFile, Map.of(
          "addSpecialTokens", "false", "truncation", "false", "padding", "false"));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + tokenizerFile + ": " + e.getMessage(), e);
    } catch (RuntimeException e) {
      throw new IllegalArgumentException(tokenizerFile + " is not a tokenizer the tokenizers library reads: "
          + e.getMessage(), e);
    }
    try {
      return new TextTokenizer(library, tokenizerJson, config, specialTokensMap, template);
    } catch (RuntimeException e) {
      library.close();
      if (e instanceof IllegalArgumentException && template != null) {
        throw new IllegalArgumentException("chat template of " + checkpointDir + ": " + e.getMessage(), e);
      }
      throw e;
    }
  }

  /** The token ids of {@code text}; {@code addSpecialTokens}: as the tokenizer's post-processor adds them (BOS). */
  public int[] encode(String text, boolean addSpecialTokens) {
    return Arrays.stream(tokenizer.encode(text, addSpecialTokens, false).getIds()).mapToInt(Math::toIntExact).toArray();
  }

  /** The text of {@code ids}, as transformers' {@code decode} (clean-up of spaces included where configured). */
  public String decode(int[] ids, boolean skipSpecialTokens) {
    long[] longs = new long[ids.length];
    for (int i = 0; i < ids.length; i++) {
      longs[i] = ids[i];
    }
    String text = tokenizer.decode(longs, skipSpecialTokens);
    return cleanUpSpaces ? cleanUpTokenization(text) : text;
  }

  /** transformers' {@code convert_ids_to_tokens}: the vocabulary's string for {@code id}, null when none. */
  public String token(int id) {
    return id >= 0 && id < tokens.length ? tokens[id] : null;
  }

  /** The id of a vocabulary string (a special token's, say), or null. */
  public Integer tokenId(String token) {
    return ids.get(token);
  }

  public boolean isSpecial(int id) {
    return id >= 0 && special.get(id);
  }

  /** transformers' {@code len(tokenizer)}: the vocabulary and the added tokens. */
  public int size() {
    return size;
  }

  /** The checkpoint's chat template, or null when it has none. */
  public ChatTemplate chatTemplate() {
    return chatTemplate;
  }

  /** The beginning-of-sequence token's string, or null. */
  public String bosToken() {
    return (String) specialTokens.get("bos_token");
  }

  /** The end-of-sequence token's string, or null. */
  public String eosToken() {
    return (String) specialTokens.get("eos_token");
  }

  /** transformers' special_tokens_map: bos_token, eos_token, ... as the chat template sees them. */
  public Map<String, Object> specialTokens() {
    return specialTokens;
  }

  @Override
  public void close() {
    tokenizer.close();
  }

  /** transformers' clean_up_tokenization (spaces before punctuation and English contractions). */
  static String cleanUpTokenization(String s) {
    return s.replace(" .", ".").replace(" ?", "?").replace(" !", "!").replace(" ,", ",").replace(" ' ", "'")
        .replace(" n't", "n't").replace(" 'm", "'m").replace(" 's", "'s").replace(" 've", "'ve").replace(" 're", "'re");
  }

  /** A special token as tokenizer_config.json gives it: a string or an AddedToken object with its content. */
  private static String tokenContent(JsonNode node) {
    if (node == null || node.isNull()) {
      return null;
    }
    if (node.isObject()) {
      JsonNode content = node.get("content");
      return content == null || content.isNull() ? null : content.asText();
    }
    return node.asText();
  }

  /** tokenizer_config.json's chat_template: a string, or named templates of which "default" is used. */
  private static String chatTemplate(JsonNode node, Path configFile) {
    if (node == null || node.isNull()) {
      return null;
    }
    if (node.isTextual()) {
      return node.asText();
    }
    if (node.isArray()) {
      for (JsonNode named : node) {
        if ("default".equals(named.path("name").asText())) {
          return named.path("template").asText();
        }
      }
      return null;
    }
    throw new IllegalArgumentException(configFile + ": chat_template must be a string or a list of named templates");
  }

  private static String read(Path file, boolean required) {
    try {
      return Files.readString(file, StandardCharsets.UTF_8);
    } catch (NoSuchFileException e) {
      if (required) {
        throw new IllegalArgumentException("no " + file.getFileName() + " in " + file.getParent()
            + ": the checkpoint has no tokenizer");
      }
      return null;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
    }
  }

  private static JsonNode parse(Path file, String text) {
    try {
      JsonNode node = JSON.readTree(text);
      if (node == null || !node.isObject()) {
        throw new IllegalArgumentException(file + " is not a JSON object");
      }
      return node;
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException(file + " is not valid JSON: " + e.getOriginalMessage());
    }
  }
}

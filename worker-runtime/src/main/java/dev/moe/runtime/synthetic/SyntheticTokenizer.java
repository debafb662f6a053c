package dev.moe.runtime.synthetic;

import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The synthetic checkpoint's tokenizer: byte-level BPE as DeepSeek-V3's (GPT-2's byte alphabet,
 * DeepSeek-V3's special tokens and chat template), whose merges make every word of a {@link
 * PromptKind} with its leading space one token. Merges join only a consonant to the vowel after it,
 * then a space to a syllable, then a spaced syllable to the syllable of a word, so every word
 * splits the same way whatever the merge order.
 *
 * <p>Ids: the special tokens 0..2, the 256 bytes, then per kind its syllables, its spaced
 * syllables and its spaced words, then the chat template's tokens.
 */
final class SyntheticTokenizer {

  static final String BOS = "<｜begin▁of▁sentence｜>";
  static final String EOS = "<｜end▁of▁sentence｜>";
  private static final String PAD = "<｜▁pad▁｜>";
  /** DeepSeek-V3's added tokens that its chat template writes (not special: they decode as text). */
  private static final List<String> CHAT_TOKENS = List.of("<｜User｜>", "<｜Assistant｜>", "<｜tool▁calls▁begin｜>",
      "<｜tool▁calls▁end｜>", "<｜tool▁call▁begin｜>", "<｜tool▁call▁end｜>", "<｜tool▁outputs▁begin｜>",
      "<｜tool▁outputs▁end｜>", "<｜tool▁output▁begin｜>", "<｜tool▁output▁end｜>", "<｜tool▁sep｜>");
  private static final String TEMPLATE = "deepseek_v3_chat_template.jinja";
  private static final int MAX_LENGTH = 4096;
  /** GPT-2's byte-level character for the space byte. */
  private static final String SPACE = byteChar(' ');

  private final List<String> tokens = new ArrayList<>();
  private final List<String[]> merges = new ArrayList<>();
  /** Per token id, its kind, or null (bytes of neither kind, special and chat tokens). */
  private final List<PromptKind> kinds = new ArrayList<>();
  /** Per kind, the ids of its spaced words in word order. */
  private final int[][] words = new int[PromptKind.values().length][PromptKind.WORDS];
  private final int firstChatToken;

  SyntheticTokenizer() {
    add(BOS, null);
    add(EOS, null);
    add(PAD, null);
    for (int b = 0; b < 256; b++) {
      add(byteChar(b), letterKind(b));
    }
    for (PromptKind kind : PromptKind.values()) {
      List<String> syllables = PromptKind.syllables().stream()
          .map(s -> kind == PromptKind.DECODE ? s : s.toUpperCase(Locale.ROOT)).toList();
      for (String s : syllables) {
        merge(s.substring(0, 1), s.substring(1), kind);
      }
      for (String s : syllables) {
        merge(SPACE, s, kind);
      }
      for (int i = 0; i < PromptKind.WORDS; i++) {
        String w = kind.word(i);
        words[kind.ordinal()][i] = merge(SPACE + w.substring(0, 2), w.substring(2), kind);
      }
    }
    firstChatToken = tokens.size();
    for (String t : CHAT_TOKENS) {
      add(t, null);
    }
  }

  /** The kind whose words use byte {@code b} as a letter, or null. */
  private static PromptKind letterKind(int b) {
    char lower = Character.toLowerCase((char) b);
    if (b >= 128 || (PromptKind.CONSONANTS.indexOf(lower) < 0 && PromptKind.VOWELS.indexOf(lower) < 0)) {
      return null;
    }
    return lower == b ? PromptKind.DECODE : PromptKind.PREFILL;
  }

  private int add(String token, PromptKind kind) {
    tokens.add(token);
    kinds.add(kind);
    return tokens.size() - 1;
  }

  private int merge(String left, String right, PromptKind kind) {
    merges.add(new String[] {left, right});
    return add(left + right, kind);
  }

  /** Tokens in all: the vocabulary and the added tokens. */
  int size() {
    return tokens.size();
  }

  int bos() {
    return 0;
  }

  int eos() {
    return 1;
  }

  int user() {
    return firstChatToken;
  }

  int assistant() {
    return firstChatToken + 1;
  }

  /** The kind of token {@code id}, or null when it belongs to neither. */
  PromptKind kind(int id) {
    return kinds.get(id);
  }

  /** The id of word {@code i} of {@code kind} with its leading space. */
  int word(PromptKind kind, int i) {
    return words[kind.ordinal()][i];
  }

  /** Writes tokenizer.json and tokenizer_config.json into {@code dir}, as transformers 4.57 saves them. */
  void write(Path dir) {
    JsonMapper json = JsonMapper.builder().build();
    ObjectNode root = json.createObjectNode();
    root.put("version", "1.0");
    root.putNull("truncation");
    root.putNull("padding");
    ArrayNode added = root.putArray("added_tokens");
    for (int id : addedIds()) {
      added.addObject().put("id", id).put("content", tokens.get(id)).put("single_word", false).put("lstrip", false)
          .put("rstrip", false).put("normalized", false).put("special", id < 3);
    }
    root.putNull("normalizer");
    root.putObject("pre_tokenizer").put("type", "ByteLevel").put("add_prefix_space", false)
        .put("trim_offsets", true).put("use_regex", true);
    ObjectNode post = root.putObject("post_processor").put("type", "TemplateProcessing");
    post.putArray("single").add(specialPiece(json, 0)).add(sequencePiece(json, "A", 0));
    post.putArray("pair").add(specialPiece(json, 0)).add(sequencePiece(json, "A", 0)).add(specialPiece(json, 1))
        .add(sequencePiece(json, "B", 1));
    ObjectNode bos = post.putObject("special_tokens").putObject(BOS).put("id", BOS);
    bos.putArray("ids").add(bos());
    bos.putArray("tokens").add(BOS);
    root.putObject("decoder").put("type", "ByteLevel").put("add_prefix_space", true).put("trim_offsets", true)
        .put("use_regex", true);
    ObjectNode model = root.putObject("model").put("type", "BPE");
    model.putNull("dropout");
    model.putNull("unk_token");
    model.putNull("continuing_subword_prefix");
    model.putNull("end_of_word_suffix");
    model.put("fuse_unk", false).put("byte_fallback", false).put("ignore_merges", false);
    ObjectNode vocab = model.putObject("vocab");
    for (int id = 0; id < firstChatToken; id++) {
      vocab.put(tokens.get(id), id);
    }
    ArrayNode mergeList = model.putArray("merges");
    for (String[] m : merges) {
      mergeList.addArray().add(m[0]).add(m[1]);
    }

    ObjectNode config = json.createObjectNode();
    config.put("add_bos_token", true).put("add_eos_token", false).putNull("add_prefix_space");
    ObjectNode decoder = config.putObject("added_tokens_decoder");
    for (int id : addedIds()) {
      decoder.putObject(Integer.toString(id)).put("content", tokens.get(id)).put("lstrip", false)
          .put("normalized", false).put("rstrip", false).put("single_word", false).put("special", id < 3);
    }
    config.put("bos_token", BOS).put("chat_template", chatTemplate()).put("clean_up_tokenization_spaces", false)
        .put("eos_token", EOS).put("legacy", true).put("model_max_length", MAX_LENGTH).put("pad_token", EOS)
        .put("tokenizer_class", "LlamaTokenizerFast").putNull("unk_token").put("use_default_system_prompt", false);
    try {
      Files.writeString(dir.resolve("tokenizer.json"), json.writeValueAsString(root));
      Files.writeString(dir.resolve("tokenizer_config.json"), config.toPrettyString());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write the tokenizer into " + dir + ": " + e.getMessage(), e);
    }
  }

  private List<Integer> addedIds() {
    List<Integer> ids = new ArrayList<>(List.of(0, 1, 2));
    for (int id = firstChatToken; id < tokens.size(); id++) {
      ids.add(id);
    }
    return ids;
  }

  private static ObjectNode specialPiece(JsonMapper json, int typeId) {
    ObjectNode n = json.createObjectNode();
    n.putObject("SpecialToken").put("id", BOS).put("type_id", typeId);
    return n;
  }

  private static ObjectNode sequencePiece(JsonMapper json, String id, int typeId) {
    ObjectNode n = json.createObjectNode();
    n.putObject("Sequence").put("id", id).put("type_id", typeId);
    return n;
  }

  private static String chatTemplate() {
    try (InputStream in = SyntheticTokenizer.class.getResourceAsStream(TEMPLATE)) {
      if (in == null) {
        throw new IllegalStateException("the chat template resource " + TEMPLATE + " is missing from the classpath");
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the chat template resource " + TEMPLATE, e);
    }
  }

  /** GPT-2's byte-level alphabet: printable Latin-1 bytes stand for themselves, the others for 256 + n. */
  private static String byteChar(int b) {
    if (printable(b)) {
      return Character.toString(b);
    }
    int n = 0;
    for (int i = 0; i < b; i++) {
      if (!printable(i)) {
        n++;
      }
    }
    return Character.toString(256 + n);
  }

  private static boolean printable(int b) {
    return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
  }
}

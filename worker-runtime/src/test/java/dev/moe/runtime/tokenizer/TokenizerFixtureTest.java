package dev.moe.runtime.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.moe.runtime.Fixtures;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The five families' tokenizers and chat templates against transformers' own results
 * (expected_tokenizer.json, expected_chat.json of each fixture): every id, token string, decoded
 * text and rendered prompt exactly; the same from the files transformers 5.x writes (the {@code
 * _v5} copies: chat_template.jinja, extra_special_tokens).
 */
class TokenizerFixtureTest {

  static final ObjectMapper JSON = new ObjectMapper();

  record TokenizerCase(String text, boolean add_special_tokens, int[] ids, String decoded, List<String> tokens) {}

  record ChatCase(List<Map<String, Object>> messages, boolean add_generation_prompt, String text, int[] ids,
      Map<String, Object> chat_template_kwargs) {}

  /** The expectations of {@code arch}; a {@code _v5} copy (transformers 5.x's files) has its original's. */
  static <T> List<T> read(String arch, String file, TypeReference<List<T>> type) throws IOException {
    return JSON.readValue(Fixtures.dir(arch.replace("_v5", "")).resolve(file).toFile(), type);
  }

  @ParameterizedTest
  @ValueSource(strings = {"mixtral", "qwen2_moe", "qwen3_moe", "olmoe", "deepseek_v3", "mixtral_v5", "qwen2_moe_v5",
      "qwen3_moe_v5", "olmoe_v5", "deepseek_v3_v5"})
  void encodeDecodeAndTokenStringsAreTransformers(String arch) throws IOException {
    List<TokenizerCase> cases = read(arch, "expected_tokenizer.json", new TypeReference<>() {});
    assertTrue(cases.size() > 10);
    try (TextTokenizer tokenizer = TextTokenizer.load(Fixtures.dir(arch))) {
      for (TokenizerCase c : cases) {
        String what = arch + " " + JSON.writeValueAsString(c.text()) + " add_special_tokens=" + c.add_special_tokens();
        assertArrayEquals(c.ids(), tokenizer.encode(c.text(), c.add_special_tokens()), what);
        List<String> tokens = new ArrayList<>();
        for (int id : c.ids()) {
          tokens.add(tokenizer.token(id));
        }
        assertEquals(c.tokens(), tokens, what);
        assertEquals(c.decoded(), tokenizer.decode(c.ids(), true), what);
      }
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"mixtral", "qwen2_moe", "qwen3_moe", "olmoe", "deepseek_v3", "mixtral_v5", "qwen2_moe_v5",
      "qwen3_moe_v5", "olmoe_v5", "deepseek_v3_v5"})
  void chatTemplatesRenderAsTransformers(String arch) throws IOException {
    List<ChatCase> cases = read(arch, "expected_chat.json", new TypeReference<>() {});
    assertTrue(cases.size() >= 7);
    try (TextTokenizer tokenizer = TextTokenizer.load(Fixtures.dir(arch))) {
      ChatTemplate template = tokenizer.chatTemplate();
      assertNotNull(template, arch + " has a chat template");
      for (ChatCase c : cases) {
        String what = arch + " " + c.messages() + " add_generation_prompt=" + c.add_generation_prompt();
        String text = template.render(c.messages(), c.add_generation_prompt(),
            c.chat_template_kwargs() == null ? Map.of() : c.chat_template_kwargs());
        assertEquals(c.text(), text, what);
        // apply_chat_template(tokenize=True): the rendering encoded without adding special tokens again.
        assertArrayEquals(c.ids(), tokenizer.encode(text, false), what);
      }
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"mixtral", "qwen2_moe", "qwen3_moe", "olmoe", "deepseek_v3"})
  void specialTokensComeFromTheConfig(String arch) {
    try (TextTokenizer tokenizer = TextTokenizer.load(Fixtures.dir(arch))) {
      assertNotNull(tokenizer.eosToken(), arch);
      assertEquals(tokenizer.eosToken(), tokenizer.token(tokenizer.tokenId(tokenizer.eosToken())));
      assertTrue(tokenizer.isSpecial(tokenizer.tokenId(tokenizer.eosToken())), arch);
      assertTrue(tokenizer.size() > 256 && tokenizer.size() <= 512, arch + ": " + tokenizer.size());
    }
  }
}

package dev.moe.runtime.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moe.runtime.Fixtures;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Which files a tokenizer comes from, and one-line errors naming the file when one is wrong. */
class TextTokenizerFilesTest {

  @TempDir Path dir;

  void copy(String arch, String... files) throws IOException {
    for (String f : files) {
      Files.copy(Fixtures.dir(arch).resolve(f), dir.resolve(f), StandardCopyOption.REPLACE_EXISTING);
    }
  }

  static String loadError(Path dir) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TextTokenizer.load(dir).close());
    assertFalse(e.getMessage().contains("\n"), e.getMessage());
    return e.getMessage();
  }

  @Test
  void aMissingTokenizerIsNamed() {
    String message = loadError(dir);
    assertTrue(message.startsWith("no tokenizer.json in " + dir), message);
  }

  @Test
  void malformedFilesAreNamed() throws IOException {
    Files.writeString(dir.resolve("tokenizer.json"), "{\"model\": ");
    assertTrue(loadError(dir).startsWith(dir.resolve("tokenizer.json") + " is not valid JSON"));
    Files.writeString(dir.resolve("tokenizer.json"), "{\"model\": {\"type\": \"NoSuchModel\"}}");
    assertTrue(loadError(dir).startsWith(dir.resolve("tokenizer.json") + " is not a tokenizer"));
    copy("qwen2_moe", "tokenizer.json");
    Files.writeString(dir.resolve("tokenizer_config.json"), "[1, 2]");
    assertEquals(dir.resolve("tokenizer_config.json") + " is not a JSON object", loadError(dir));
    Files.writeString(dir.resolve("tokenizer_config.json"), "{\"chat_template\": \"{% for m in messages %}\"}");
    assertTrue(loadError(dir).startsWith("chat template of " + dir + ": the chat template does not parse"));
  }

  @Test
  void withoutAConfigThereIsNoTemplateAndNoSpecialTokens() throws IOException {
    copy("qwen2_moe", "tokenizer.json");
    try (TextTokenizer t = TextTokenizer.load(dir)) {
      assertNull(t.chatTemplate());
      assertNull(t.eosToken());
      assertEquals("<|im_end|>", t.token(t.tokenId("<|im_end|>")));
      assertNull(t.token(1 << 20));
    }
  }

  @Test
  void chatTemplateJinjaWinsOverTheConfigsTemplate() throws IOException {
    // transformers 4.57 and 5.x save the template beside the config, as chat_template.jinja.
    copy("mixtral", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json");
    Files.writeString(dir.resolve("chat_template.jinja"),
        "{{ bos_token }}{% for m in messages %}[{{ m.role }}] {{ m.content }}{{ eos_token }}{% endfor %}\n");
    try (TextTokenizer t = TextTokenizer.load(dir)) {
      assertEquals("<s>", t.bosToken());
      assertEquals("<s>[user] hi</s>",
          t.chatTemplate().render(List.of(Map.of("role", "user", "content", "hi")), true, Map.of()));
    }
  }
}

package dev.moe.runtime.weights;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;

/**
 * A checkpoint's file layout with random shard contents (fetch-weights checks bytes, not
 * tensors): config.json, a safetensors index naming two shards, and tokenizer.json.
 */
final class TinyCheckpoint {

  static final String SHARD1 = "model-00001-of-00002.safetensors";
  static final String SHARD2 = "model-00002-of-00002.safetensors";
  static final int SHARD_BYTES = 384 * 1024;
  static final List<String> FILES = List.of("config.json", "model.safetensors.index.json", SHARD1, SHARD2,
      "tokenizer.json");

  private TinyCheckpoint() {}

  static Path write(Path dir) throws IOException {
    Files.createDirectories(dir);
    Random random = new Random(18);
    Files.writeString(dir.resolve("config.json"), "{\"model_type\": \"tiny\"}\n");
    Files.writeString(dir.resolve("model.safetensors.index.json"),
        "{\"weight_map\": {\"a\": \"" + SHARD1 + "\", \"b\": \"" + SHARD2 + "\", \"c\": \"" + SHARD2 + "\"}}\n");
    for (String shard : List.of(SHARD1, SHARD2)) {
      byte[] b = new byte[SHARD_BYTES];
      random.nextBytes(b);
      Files.write(dir.resolve(shard), b);
    }
    Files.writeString(dir.resolve("tokenizer.json"), "{\"model\": {}}\n");
    return dir;
  }

  static long totalBytes(Path dir) throws IOException {
    long total = 0;
    for (String f : FILES) {
      total += Files.size(dir.resolve(f));
    }
    return total;
  }

  /** Every file of {@code expected} is in {@code actual} with the same bytes, and nothing else is. */
  static void assertSameFiles(Path expected, Path actual) throws IOException {
    for (String f : FILES) {
      assertArrayEquals(Files.readAllBytes(expected.resolve(f)), Files.readAllBytes(actual.resolve(f)), f);
    }
    try (Stream<Path> s = Files.list(actual)) {
      assertEquals(FILES.stream().sorted().toList(), s.map(p -> p.getFileName().toString()).sorted().toList(),
          "the destination holds the checkpoint's files and no partial ones");
    }
  }

  /** Runs a fetch; returns its summary and what it printed. */
  record Run(WeightsFetcher.Summary summary, String log) {}

  static Run fetch(WeightsSource source, Path dest) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    WeightsFetcher.Summary s = new WeightsFetcher(source, dest, new PrintStream(out, true, StandardCharsets.UTF_8)).fetch();
    return new Run(s, out.toString(StandardCharsets.UTF_8));
  }
}

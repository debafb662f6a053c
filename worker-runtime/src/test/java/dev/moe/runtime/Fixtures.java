package dev.moe.runtime;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The transformers fixtures under {@code src/test/resources/fixtures/<arch>/}: a tiny checkpoint
 * and {@code expected_layer<L>.safetensors} with {@code input}, {@code output}, {@code topk_ids},
 * {@code topk_weights} and {@code output_bf16} (see the README there).
 */
public final class Fixtures {

  public static final List<String> ARCHS =
      List.of("mixtral", "qwen2_moe", "qwen3_moe", "olmoe", "deepseek_v3", "deepseek_v3_fp8");

  private static final Pattern EXPECTED = Pattern.compile("expected_layer(\\d+)\\.safetensors");

  private Fixtures() {}

  /** The checkpoint directory of fixture {@code arch}. */
  public static Path dir(String arch) {
    URL url = Fixtures.class.getResource("/fixtures/" + arch);
    if (url == null) {
      throw new IllegalStateException("fixture " + arch + " is not on the test classpath");
    }
    try {
      return Path.of(url.toURI());
    } catch (URISyntaxException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The fixture's {@code expected_layer<L>.safetensors}. */
  public static Path expected(String arch) {
    try (Stream<Path> files = Files.list(dir(arch))) {
      return files.filter(p -> EXPECTED.matcher(p.getFileName().toString()).matches()).findFirst()
          .orElseThrow(() -> new IllegalStateException("fixture " + arch + " has no expected_layer<L>.safetensors"));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The MoE layer L the fixture's expected outputs are for. */
  public static int layer(String arch) {
    Matcher m = EXPECTED.matcher(expected(arch).getFileName().toString());
    if (!m.matches()) {
      throw new IllegalStateException("unexpected fixture file name");
    }
    return Integer.parseInt(m.group(1));
  }

  /** Copies the fixture's checkpoint to {@code target} (a new directory) so a test may damage it. */
  public static Path copy(String arch, Path target) {
    try {
      Files.createDirectories(target);
      try (Stream<Path> files = Files.list(dir(arch))) {
        for (Path f : files.toList()) {
          Files.copy(f, target.resolve(f.getFileName()));
        }
      }
      return target;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** max |a - b| over the elements. */
  public static double maxAbsDiff(float[] a, float[] b) {
    if (a.length != b.length) {
      throw new IllegalArgumentException("lengths differ: " + a.length + " vs " + b.length);
    }
    double m = 0;
    for (int i = 0; i < a.length; i++) {
      m = Math.max(m, Math.abs((double) a[i] - b[i]));
    }
    return m;
  }

  /** max |a|. */
  public static double maxAbs(float[] a) {
    double m = 0;
    for (float v : a) {
      m = Math.max(m, Math.abs(v));
    }
    return m;
  }
}

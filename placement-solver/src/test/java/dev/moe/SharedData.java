package dev.moe;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;

/** The shared routing statistics beside the checkout (Surefire runs in the module directory). */
public final class SharedData {

  public static final Path ROUTING = Path.of("").toAbsolutePath().resolve("../../shared/data/routing").normalize();

  private SharedData() {}

  /** A file under the routing data; the calling test is skipped when the data is absent. */
  public static Path routing(String relative) {
    Path file = ROUTING.resolve(relative);
    assumeTrue(Files.isRegularFile(file), "shared routing data not present: " + file);
    return file;
  }
}

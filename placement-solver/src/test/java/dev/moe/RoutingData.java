package dev.moe;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;

/** The repository's routing statistics, {@code data/routing} (Surefire runs in the module directory). */
public final class RoutingData {

  public static final Path ROUTING = Path.of("").toAbsolutePath().resolve("../data/routing").normalize();

  private RoutingData() {}

  /** A file under the routing data, which the repository carries: its absence is a failure. */
  public static Path routing(String relative) {
    Path file = ROUTING.resolve(relative);
    assertTrue(Files.isRegularFile(file), "routing data missing: " + file);
    return file;
  }
}

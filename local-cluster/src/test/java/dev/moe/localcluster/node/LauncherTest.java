package dev.moe.localcluster.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The parts of launching that need no API server: $(VAR) expansion, path and address rewriting, image names. */
class LauncherTest {

  @Test
  void expandsVariablesAsKubernetesDoes() {
    Map<String, String> vars = Map.of("A", "1", "B", "two");
    assertEquals("1-two", Launcher.expand("$(A)-$(B)", vars));
    assertEquals("$(A)", Launcher.expand("$$(A)", vars));
    assertEquals("$(MISSING)", Launcher.expand("$(MISSING)", vars));
    assertEquals("$(A", Launcher.expand("$(A", vars));
    assertEquals("a$b$", Launcher.expand("a$b$", vars));
  }

  @Test
  void localizerPointsMountPathsAtHostDirsAndZeroAddressAtThePodIp() {
    var localizer = new Launcher.Localizer("127.10.0.7", List.of(
        Map.entry("/var/run/moe/stats", Path.of("/state/stats")),
        Map.entry("/weights", Path.of("/pv/weights"))));
    assertEquals("--checkpoint=/pv/weights/model", localizer.apply("--checkpoint=/weights/model"));
    assertEquals("/pv/weights", localizer.apply("/weights"));
    assertEquals("/weightsX", localizer.apply("/weightsX"));
    assertEquals("--stats-token-file=/state/stats/token", localizer.apply("--stats-token-file=/var/run/moe/stats/token"));
    assertEquals("--http=127.10.0.7:8080", localizer.apply("--http=0.0.0.0:8080"));
  }

  @Test
  void imagesAreLookedUpByRepository() {
    ImageTable table = new ImageTable(Map.of()).with("ghcr.io/moe-operator/worker=/usr/bin/java -jar /w.jar")
        .with("localhost:5000/tool=/bin/tool --flag");
    assertEquals(List.of("/usr/bin/java", "-jar", "/w.jar"), table.lookup("ghcr.io/moe-operator/worker:0.1.0").orElseThrow().command());
    assertTrue(table.lookup("ghcr.io/moe-operator/worker@sha256:abc").orElseThrow().jvm());
    assertEquals(List.of("/bin/tool", "--flag"), table.lookup("localhost:5000/tool").orElseThrow().command());
    assertTrue(table.lookup("ghcr.io/moe-operator/other:1").isEmpty());
    assertThrows(IllegalArgumentException.class, () -> table.with("no-command="));
  }
}

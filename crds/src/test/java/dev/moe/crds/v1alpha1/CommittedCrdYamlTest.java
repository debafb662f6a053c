package dev.moe.crds.v1alpha1;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The CRD YAML in {@code crds/generated/} is exactly what the Java types generate. With {@code
 * -Dcrds.update=true} (see {@link GeneratedCrds#UPDATE_COMMAND}) it rewrites the committed files
 * instead of failing.
 */
class CommittedCrdYamlTest {

  @Test
  void committedYamlIsWhatTheJavaTypesGenerate() throws IOException {
    Path generated = GeneratedCrds.generate();
    Path committed = GeneratedCrds.committedDir();
    Files.createDirectories(committed);
    boolean update = Boolean.getBoolean("crds.update");
    List<String> problems = new ArrayList<>();
    for (String file : GeneratedCrds.FILES) {
      Path fresh = generated.resolve(file);
      Path kept = committed.resolve(file);
      if (update) {
        Files.copy(fresh, kept, StandardCopyOption.REPLACE_EXISTING);
      } else if (!Files.exists(kept)) {
        problems.add(kept + " is missing");
      } else if (!Files.readString(fresh).equals(Files.readString(kept))) {
        problems.add(kept + " differs from the CRD the Java types generate (" + fresh + ")");
      }
    }
    try (Stream<Path> files = Files.list(committed)) {
      for (Path extra : files.filter(p -> !GeneratedCrds.FILES.contains(p.getFileName().toString())).toList()) {
        if (update) {
          Files.delete(extra);
        } else {
          problems.add(extra + " is not generated from the Java types");
        }
      }
    }
    if (!problems.isEmpty()) {
      fail(String.join("; ", problems) + ". If the change to the types is intended, regenerate with `"
          + GeneratedCrds.UPDATE_COMMAND + "` and commit crds/generated/.");
    }
  }
}

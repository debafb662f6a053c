package dev.moe.localcluster.cli;

import dev.moe.localcluster.system.ShiftStatistics;
import java.nio.file.Files;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** Where DeepSeek-V3's measured routing statistics are (SGLang's dumps: decode and prefill). */
public final class StatisticsOption {

  @Option(names = "--statistics", paramLabel = "DIR",
      description = "DeepSeek-V3's SGLang statistics (default: the repository's data/routing/deepseek-v3-sglang).")
  Path statistics;

  /** The directory, checked to hold the decode and prefill files both scenarios replay. */
  Path dir(Path repo) {
    Path dir = statistics != null ? statistics : repo.resolve("data/routing/deepseek-v3-sglang");
    for (String f : ShiftStatistics.FILES) {
      if (!Files.isRegularFile(dir.resolve(f))) {
        throw new IllegalArgumentException("no " + f + " in " + dir + ": pass --statistics DIR");
      }
    }
    return dir;
  }
}

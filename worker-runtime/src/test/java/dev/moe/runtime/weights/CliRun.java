package dev.moe.runtime.weights;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * One {@code worker-runtime fetch-weights} run as its own process, as the init container runs it:
 * its environment (credentials) is its own, and its exit code, stderr and termination message file
 * are what Kubernetes would see.
 */
record CliRun(int exitCode, String stderr, String terminationMessage, List<String> destFiles) {

  static CliRun fetchWeights(Path dir, Map<String, String> env, String... args) throws IOException, InterruptedException {
    Path dest = dir.resolve("dest");
    Path termination = dir.resolve("termination-log");
    Files.createDirectories(dir);
    Files.writeString(termination, "");
    List<String> command = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"),
        "-cp", System.getProperty("java.class.path"), "dev.moe.runtime.cli.WorkerCli", "fetch-weights",
        "--dest=" + dest, "--termination-message-path=" + termination));
    command.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(command).redirectOutput(ProcessBuilder.Redirect.DISCARD);
    pb.environment().keySet().removeIf(k -> k.startsWith("AWS_"));
    pb.environment().putAll(env);
    Process p = pb.start();
    String stderr = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(60, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new IllegalStateException("fetch-weights did not end: " + stderr);
    }
    List<String> files = List.of();
    if (Files.isDirectory(dest)) {
      try (Stream<Path> s = Files.list(dest)) {
        files = s.map(f -> f.getFileName().toString()).toList();
      }
    }
    return new CliRun(p.exitValue(), stderr, Files.readString(termination).strip(), files);
  }
}

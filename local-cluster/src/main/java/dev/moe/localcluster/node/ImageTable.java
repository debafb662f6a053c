package dev.moe.localcluster.node;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * Which local command runs a container image on the process node: the image's repository (no tag or
 * digest) maps to a command prefix, the image's entrypoint; the container's args follow it.
 */
public final class ImageTable {

  public static final String WORKER_IMAGE = "ghcr.io/moe-operator/worker";
  public static final String OPERATOR_IMAGE = "ghcr.io/moe-operator/operator";

  /**
   * @param command the entrypoint, e.g. {@code [/usr/bin/java, -jar, /abs/app.jar]}
   * @param jvm     whether the first word is a {@code java} launcher, which then gets the node's
   *                name-resolution options (the pods' hosts file) right after it
   */
  public record Entry(List<String> command, boolean jvm) {
    public Entry {
      if (command.isEmpty()) {
        throw new IllegalArgumentException("an image's command must not be empty");
      }
      command = List.copyOf(command);
    }

    /** A command whose first word names a {@code java} launcher counts as a JVM. */
    public static Entry of(List<String> command) {
      return new Entry(command, !command.isEmpty() && Path.of(command.getFirst()).getFileName().toString().equals("java"));
    }
  }

  private final Map<String, Entry> entries;

  public ImageTable(Map<String, Entry> entries) {
    this.entries = new TreeMap<>(entries);
  }

  /**
   * This repository's two images, run from their built jars with the JVM running this code and the
   * options of scripts/run-jar: the worker (worker-runtime/target/worker-runtime.jar) and the
   * operator (operator/target/quarkus-app/quarkus-run.jar).
   */
  public static ImageTable repoDefaults(Path repoRoot) {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    List<String> jvmOptions = List.of("--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow");
    return new ImageTable(Map.of(
        WORKER_IMAGE, Entry.of(jarCommand(java, jvmOptions, repoRoot.resolve("worker-runtime/target/worker-runtime.jar"))),
        OPERATOR_IMAGE, Entry.of(jarCommand(java, jvmOptions, repoRoot.resolve("operator/target/quarkus-app/quarkus-run.jar")))));
  }

  private static List<String> jarCommand(String java, List<String> jvmOptions, Path jar) {
    var command = new java.util.ArrayList<String>();
    command.add(java);
    command.addAll(jvmOptions);
    command.add("-jar");
    command.add(jar.toAbsolutePath().normalize().toString());
    return command;
  }

  /** This table plus {@code NAME=COMMAND} (the command split at whitespace), replacing NAME's entry. */
  public ImageTable with(String spec) {
    int eq = spec.indexOf('=');
    if (eq <= 0 || spec.substring(eq + 1).isBlank()) {
      throw new IllegalArgumentException("an image is NAME=COMMAND (e.g. ghcr.io/moe-operator/worker=java -jar worker.jar), not '" + spec + "'");
    }
    var copy = new TreeMap<>(entries);
    copy.put(repository(spec.substring(0, eq).strip()), Entry.of(Arrays.asList(spec.substring(eq + 1).strip().split("\\s+"))));
    return new ImageTable(copy);
  }

  public Optional<Entry> lookup(String image) {
    return Optional.ofNullable(entries.get(repository(image)));
  }

  public List<String> names() {
    return List.copyOf(entries.keySet());
  }

  /** {@code host:5000/a/b:tag@sha256:..} -> {@code host:5000/a/b}. */
  static String repository(String image) {
    String s = image.contains("@") ? image.substring(0, image.indexOf('@')) : image;
    int colon = s.lastIndexOf(':');
    return colon > s.lastIndexOf('/') ? s.substring(0, colon) : s;
  }
}

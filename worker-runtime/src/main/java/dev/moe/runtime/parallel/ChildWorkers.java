package dev.moe.runtime.parallel;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * A worker group as child processes of this JVM, one {@code serve} each, on loopback ports chosen
 * here: the same {@code java} and class path as this process (the executable jar, or the test
 * class path). Ready when every child's {@code /readyz} answers 200, that is when each has loaded
 * its weights and connected to all the others.
 */
public final class ChildWorkers implements AutoCloseable {

  /** The CLI entry point that has the {@code serve} subcommand. */
  static final String MAIN = "dev.moe.runtime.cli.WorkerCli";

  private final List<Process> processes;
  private final List<Path> logs;
  private final List<InetSocketAddress> transport;
  private final List<InetSocketAddress> http;
  private final List<InetSocketAddress> api;

  private ChildWorkers(List<Process> processes, List<Path> logs, List<InetSocketAddress> transport,
      List<InetSocketAddress> http, List<InetSocketAddress> api) {
    this.processes = processes;
    this.logs = logs;
    this.transport = transport;
    this.http = http;
    this.api = api;
  }

  /**
   * Starts {@code n} workers and waits for all to be ready.
   *
   * @param serveArgs the {@code serve} options every worker shares (checkpoint, placement, backend
   *     ...); rank, peers and HTTP address are added here
   */
  public static ChildWorkers start(int n, List<String> serveArgs, Duration readyTimeout) {
    return start(n, serveArgs, readyTimeout, false);
  }

  /** {@link #start(int, List, Duration)}; with {@code api}, each worker also serves the OpenAI API. */
  public static ChildWorkers start(int n, List<String> serveArgs, Duration readyTimeout, boolean api) {
    List<InetSocketAddress> transport = freeLoopbackPorts(n);
    List<InetSocketAddress> http = freeLoopbackPorts(n);
    List<InetSocketAddress> apis = api ? freeLoopbackPorts(n) : List.of();
    String peers = transport.stream().map(a -> "127.0.0.1:" + a.getPort()).collect(Collectors.joining(","));
    List<Process> processes = new ArrayList<>();
    List<Path> logs = new ArrayList<>();
    ChildWorkers children = new ChildWorkers(processes, logs, transport, http, apis);
    try {
      for (int r = 0; r < n; r++) {
        List<String> command = new ArrayList<>(javaCommand());
        command.addAll(List.of("serve", "--rank", Integer.toString(r), "--peers", peers,
            "--http", "127.0.0.1:" + http.get(r).getPort()));
        if (api) {
          command.addAll(List.of("--api", "127.0.0.1:" + apis.get(r).getPort()));
        }
        command.addAll(serveArgs);
        Path log = Files.createTempFile("moe-worker-" + r + "-", ".log");
        logs.add(log);
        processes.add(new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start());
      }
      children.awaitReady(readyTimeout);
      return children;
    } catch (IOException e) {
      children.close();
      throw new UncheckedIOException("cannot start worker processes: " + e.getMessage(), e);
    } catch (RuntimeException e) {
      children.close();
      throw e;
    }
  }

  /** This JVM's java, its native-access flag, and its class path. */
  static List<String> javaCommand() {
    String java = ProcessHandle.current().info().command()
        .orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    return List.of(java, "--enable-native-access=ALL-UNNAMED", "-XX:+UseSerialGC", "-cp",
        System.getProperty("java.class.path"), MAIN);
  }

  public List<InetSocketAddress> transportAddresses() {
    return transport;
  }

  public List<Process> processes() {
    return processes;
  }

  /** The workers' control HTTP addresses ({@code /readyz}, {@code /metrics}, ...), by rank. */
  public List<InetSocketAddress> httpAddresses() {
    return http;
  }

  /** The workers' OpenAI API addresses, by rank (empty when started without the API). */
  public List<InetSocketAddress> apiAddresses() {
    return api;
  }

  private void awaitReady(Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    try (HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build()) {
      for (int r = 0; r < processes.size(); r++) {
        URI readyz = URI.create("http://127.0.0.1:" + http.get(r).getPort() + "/readyz");
        while (true) {
          if (!processes.get(r).isAlive()) {
            throw new IllegalStateException("worker " + r + " exited with code " + processes.get(r).exitValue()
                + " before it was ready: " + tail(r));
          }
          if (ready(client, readyz)) {
            break;
          }
          if (System.nanoTime() > deadline) {
            throw new IllegalStateException("worker " + r + " was not ready within " + timeout.toSeconds() + " s: "
                + tail(r));
          }
          Thread.sleep(50);
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while waiting for the workers", e);
    }
  }

  private static boolean ready(HttpClient client, URI readyz) throws InterruptedException {
    try {
      HttpResponse<Void> r = client.send(HttpRequest.newBuilder(readyz).timeout(Duration.ofSeconds(2)).build(),
          HttpResponse.BodyHandlers.discarding());
      return r.statusCode() == 200;
    } catch (IOException e) {
      return false;
    }
  }

  /** The last lines a worker printed, for error messages. */
  String tail(int rank) {
    try {
      List<String> lines = Files.readAllLines(logs.get(rank), StandardCharsets.UTF_8);
      String last = String.join(" | ", lines.subList(Math.max(0, lines.size() - 5), lines.size())).strip();
      return last.isEmpty() ? "(it printed nothing)" : last;
    } catch (IOException e) {
      return "(its log " + logs.get(rank) + " is unreadable: " + e.getMessage() + ")";
    }
  }

  private static List<InetSocketAddress> freeLoopbackPorts(int n) {
    List<ServerSocket> sockets = new ArrayList<>();
    try {
      for (int i = 0; i < n; i++) {
        ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
        sockets.add(s);
      }
      return sockets.stream().map(s -> new InetSocketAddress("127.0.0.1", s.getLocalPort())).toList();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot find free loopback ports: " + e.getMessage(), e);
    } finally {
      for (ServerSocket s : sockets) {
        try {
          s.close();
        } catch (IOException ignored) {
          // Only probing for a free port.
        }
      }
    }
  }

  /**
   * Stops every worker gracefully (SIGTERM: each finishes its steps in flight), forcibly after 20 s;
   * removes the logs.
   */
  @Override
  public void close() {
    for (Process p : processes) {
      p.destroy();
    }
    for (Process p : processes) {
      try {
        if (!p.waitFor(20, TimeUnit.SECONDS)) {
          p.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        p.destroyForcibly();
      }
    }
    for (Path log : logs) {
      try {
        Files.deleteIfExists(log);
      } catch (IOException ignored) {
        // A temp file left behind is harmless.
      }
    }
  }
}

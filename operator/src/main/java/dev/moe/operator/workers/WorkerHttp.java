package dev.moe.operator.workers;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.function.Function;

/**
 * One request to each of many workers at once (a 144-worker group is read in one request's time);
 * every worker gets a reply, a failed one saying why.
 */
public final class WorkerHttp {

  /** A worker's answer; {@code status} 0 when none came, {@code body} then says why. */
  public record Reply(int status, String body) {

    /** The reply for a message: the status and the body's first line. */
    public String describe() {
      String line = body.strip().lines().findFirst().orElse("");
      return status == 0 ? line : "answered " + status + (line.isEmpty() ? "" : ": " + line);
    }
  }

  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

  /**
   * Sends {@code request(address)} to every worker of {@code addresses} (ordinal to pod IP) and
   * waits for all replies; each request carries its own timeout.
   */
  public Map<Integer, Reply> send(Map<Integer, String> addresses, Function<String, HttpRequest> request) {
    Map<Integer, CompletableFuture<Reply>> pending = new TreeMap<>();
    addresses.forEach((worker, ip) -> pending.put(worker, http.sendAsync(request.apply(ip),
            HttpResponse.BodyHandlers.ofString())
        .thenApply(r -> new Reply(r.statusCode(), r.body()))
        .exceptionally(t -> new Reply(0, "unreachable: " + cause(t)))));
    Map<Integer, Reply> replies = new TreeMap<>();
    pending.forEach((worker, reply) -> replies.put(worker, reply.join()));
    return replies;
  }

  /** {@code http://ip:port/path}, an IPv6 address in brackets. */
  public static URI uri(String ip, int port, String path) {
    return URI.create("http://" + (ip.contains(":") ? "[" + ip + "]" : ip) + ":" + port + path);
  }

  private static String cause(Throwable t) {
    Throwable c = t instanceof CompletionException && t.getCause() != null ? t.getCause() : t;
    return c.getMessage() == null ? c.getClass().getSimpleName() : c.getMessage();
  }
}

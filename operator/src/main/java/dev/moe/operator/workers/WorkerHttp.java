package dev.moe.operator.workers;

import dev.moe.operator.dependent.WorkerStatefulSetDependent;
import dev.moe.operator.tls.ModelTrust;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.function.Function;

/**
 * One request to each of many workers at once (a 144-worker group is read in one request's time);
 * every worker gets a reply, a failed one saying why. Requests that carry the model's token go to
 * the workers' control API over HTTPS, trusting the model's CA alone; never over plain HTTP.
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

  private static final Duration CONNECT = Duration.ofSeconds(2);

  private final HttpClient plain = HttpClient.newBuilder().connectTimeout(CONNECT).build();
  /** A client per model CA (PEM): one model's trust is never another's. */
  private final Map<String, HttpClient> byCa = new ConcurrentHashMap<>();

  /**
   * Sends {@code request(address)} to every worker of {@code addresses} (ordinal to pod IP) and
   * waits for all replies; each request carries its own timeout. For what carries no credential:
   * the OpenAI API's health.
   */
  public Map<Integer, Reply> send(Map<Integer, String> addresses, Function<String, HttpRequest> request) {
    return send(plain, addresses, request);
  }

  /**
   * {@link #send}, to the workers' control API with the model's {@code credentials}: over HTTPS,
   * accepting only a worker certificate of the model's CA, each request with the model's token. A
   * request that is not https is refused before anything is sent: the token must not cross a plain
   * connection.
   */
  public Map<Integer, Reply> control(WorkerCredentials credentials, Map<Integer, String> addresses,
      Function<String, HttpRequest.Builder> request) {
    HttpClient client = byCa.computeIfAbsent(credentials.caCertificate(),
        ca -> HttpClient.newBuilder().connectTimeout(CONNECT).sslContext(ModelTrust.of(ca)).build());
    return send(client, addresses, ip -> {
      HttpRequest r = request.apply(ip).header("Authorization", "Bearer " + credentials.token()).build();
      if (!"https".equals(r.uri().getScheme())) {
        throw new IllegalArgumentException("refusing to send a worker's control request over "
            + r.uri().getScheme() + " (" + r.uri() + "): the token goes over HTTPS only");
      }
      return r;
    });
  }

  private static Map<Integer, Reply> send(HttpClient http, Map<Integer, String> addresses,
      Function<String, HttpRequest> request) {
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
    return uri("http", ip, port, path);
  }

  /** {@code https://ip:8443/path}: the worker's control API. */
  public static URI controlUri(String ip, String path) {
    return controlUri(ip, WorkerStatefulSetDependent.CONTROL_PORT, path);
  }

  /** {@code https://ip:port/path}: a control API on another port (tests serve several on one host). */
  public static URI controlUri(String ip, int port, String path) {
    return uri("https", ip, port, path);
  }

  private static URI uri(String scheme, String ip, int port, String path) {
    return URI.create(scheme + "://" + (ip.contains(":") ? "[" + ip + "]" : ip) + ":" + port + path);
  }

  private static String cause(Throwable t) {
    Throwable c = t instanceof CompletionException && t.getCause() != null ? t.getCause() : t;
    return c.getMessage() == null ? c.getClass().getSimpleName() : c.getMessage();
  }
}

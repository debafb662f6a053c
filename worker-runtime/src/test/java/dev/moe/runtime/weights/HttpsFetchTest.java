package dev.moe.runtime.weights;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * fetch-weights from a Hugging Face-style directory on a local HTTPS server (the JDK's, with a
 * self-signed certificate that only --ca-bundle makes trusted): HEAD for sizes, ETags and
 * SHA256SUMS for checksums, Range requests to continue a transfer that broke off.
 */
class HttpsFetchTest {

  private static final Pattern RANGE = Pattern.compile("bytes=(\\d+)-");

  @TempDir static Path shared;
  private static HttpsServer server;
  private static Path root;
  private static Path ca;
  private static String base;
  /** Bytes of body sent per path. */
  private static final Map<String, AtomicLong> served = new ConcurrentHashMap<>();
  /** Paths whose next GET is cut off after this many bytes. */
  private static final Map<String, Integer> cutAfter = new ConcurrentHashMap<>();

  @BeforeAll
  static void start() throws Exception {
    Path keystore = shared.resolve("server.p12");
    ca = shared.resolve("ca.pem");
    String keytool = Path.of(System.getProperty("java.home"), "bin", "keytool").toString();
    run(keytool, "-genkeypair", "-alias", "server", "-keyalg", "EC", "-groupname", "secp256r1", "-dname", "CN=localhost",
        "-ext", "san=ip:127.0.0.1", "-validity", "2", "-keystore", keystore.toString(), "-storetype", "PKCS12",
        "-storepass", "changeit");
    run(keytool, "-exportcert", "-rfc", "-alias", "server", "-keystore", keystore.toString(), "-storepass", "changeit",
        "-file", ca.toString());
    KeyStore ks = KeyStore.getInstance("PKCS12");
    try (InputStream in = Files.newInputStream(keystore)) {
      ks.load(in, "changeit".toCharArray());
    }
    KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
    kmf.init(ks, "changeit".toCharArray());
    SSLContext ssl = SSLContext.getInstance("TLS");
    ssl.init(kmf.getKeyManagers(), null, null);

    root = shared.resolve("www");
    server = HttpsServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    server.setHttpsConfigurator(new HttpsConfigurator(ssl));
    server.createContext("/", HttpsFetchTest::serve);
    server.start();
    base = "https://127.0.0.1:" + server.getAddress().getPort() + "/";
  }

  @AfterAll
  static void stop() {
    if (server != null) {
      server.stop(0);
    }
  }

  private static void run(String... command) throws Exception {
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    assertEquals(0, p.waitFor(), out);
  }

  /**
   * Files under {@link #root}; under "etag/" each carries its SHA-256 as ETag. HEAD, GET and
   * GET with "Range: bytes=N-".
   */
  private static void serve(HttpExchange ex) throws IOException {
    String path = ex.getRequestURI().getPath();
    Path file = root.resolve(path.substring(1)).normalize();
    try (ex) {
      if (!file.startsWith(root) || !Files.isRegularFile(file)) {
        ex.sendResponseHeaders(404, -1);
        return;
      }
      byte[] content = Files.readAllBytes(file);
      if (path.startsWith("/etag/")) {
        ex.getResponseHeaders().set("ETag", "\"" + sha256(content) + "\"");
      }
      if (ex.getRequestMethod().equals("HEAD")) {
        ex.getResponseHeaders().set("Content-Length", String.valueOf(content.length));
        ex.sendResponseHeaders(200, -1);
        return;
      }
      int from = 0;
      Matcher m = RANGE.matcher(ex.getRequestHeaders().getFirst("Range") == null ? "" : ex.getRequestHeaders().getFirst("Range"));
      if (m.matches()) {
        from = Integer.parseInt(m.group(1));
        ex.getResponseHeaders().set("Content-Range", "bytes " + from + "-" + (content.length - 1) + "/" + content.length);
      }
      ex.sendResponseHeaders(from > 0 ? 206 : 200, content.length - from);
      Integer cut = cutAfter.remove(path);
      int end = cut == null ? content.length : from + cut;
      OutputStream out = ex.getResponseBody();
      out.write(content, from, end - from);
      out.flush();
      served.computeIfAbsent(path, p -> new AtomicLong()).addAndGet(end - from);
      if (cut != null) {
        // Drop the connection mid-body, as a network failure or a killed pod would.
        ex.getHttpContext().getServer().stop(0);
      }
    }
  }

  private static String sha256(byte[] b) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  private static WeightsSource source(String dir) {
    return WeightsSource.of(base + dir + "/", null, "us-east-1", null, ca);
  }

  private static Path checkpoint(String dir) throws IOException {
    return TinyCheckpoint.write(root.resolve(dir));
  }

  private static void writeSums(Path dir, String wrongFor) throws IOException {
    StringBuilder sums = new StringBuilder();
    for (String f : TinyCheckpoint.FILES) {
      sums.append(f.equals(wrongFor) ? "0".repeat(64) : sha256(Files.readAllBytes(dir.resolve(f)))).append("  ")
          .append(f).append('\n');
    }
    Files.writeString(dir.resolve(HttpsSource.SUMS), sums);
  }

  @Test
  void fetchesTheLayoutVerifiedByEtagsAndKeepsItOnTheNextRun(@TempDir Path dest) throws IOException {
    Path src = checkpoint("etag");

    TinyCheckpoint.Run first = TinyCheckpoint.fetch(source("etag"), dest);

    TinyCheckpoint.assertSameFiles(src, dest);
    assertEquals(new WeightsFetcher.Summary(5, 0, 0, TinyCheckpoint.totalBytes(src)), first.summary());
    assertTrue(first.log().contains("fetched " + TinyCheckpoint.SHARD2 + " (" + TinyCheckpoint.SHARD_BYTES
        + " bytes, verified: size, SHA-256)"), first.log());
    assertEquals(new WeightsFetcher.Summary(5, 5, 0, 0), TinyCheckpoint.fetch(source("etag"), dest).summary());
  }

  @Test
  void continuesATransferThatBrokeOffWithoutDownloadingItsBytesAgain(@TempDir Path dest) throws Exception {
    Path src = checkpoint("cut");
    writeSums(src, null);
    String shard = "/cut/" + TinyCheckpoint.SHARD1;
    cutAfter.put(shard, 150_000);

    WeightsException broke = assertThrows(WeightsException.class, () -> TinyCheckpoint.fetch(source("cut"), dest));
    assertTrue(broke.getMessage().startsWith(base + "cut/: the transfer of " + base + "cut/" + TinyCheckpoint.SHARD1
        + " broke off after "), broke.getMessage());
    assertFalse(Files.exists(dest.resolve(TinyCheckpoint.SHARD1)));
    long kept = Files.size(dest.resolve(WeightsFetcher.PARTIAL_DIR).resolve(TinyCheckpoint.SHARD1));
    assertTrue(kept > 0 && kept <= 150_000, "partial file of " + kept + " bytes");

    restart();
    long before = served.get(shard).get();
    TinyCheckpoint.Run run = TinyCheckpoint.fetch(source("cut"), dest);

    TinyCheckpoint.assertSameFiles(src, dest);
    assertEquals(TinyCheckpoint.SHARD_BYTES - kept, served.get(shard).get() - before,
        "only the missing bytes were sent again");
    assertEquals(1, run.summary().resumed());
    assertEquals(2, run.summary().kept(), "config.json and the index were complete before the break");
    assertTrue(run.log().contains("resuming " + TinyCheckpoint.SHARD1 + " at byte " + kept), run.log());
    assertTrue(run.log().contains("fetched " + TinyCheckpoint.SHARD1 + " (" + TinyCheckpoint.SHARD_BYTES + " bytes, "
        + (TinyCheckpoint.SHARD_BYTES - kept) + " downloaded, verified: size, SHA-256)"), run.log());
  }

  /** The cut stopped the server (to drop the connection); the same port serves again. */
  private static void restart() throws IOException {
    var config = server.getHttpsConfigurator();
    var address = server.getAddress();
    server = HttpsServer.create(address, 0);
    server.setHttpsConfigurator(config);
    server.createContext("/", HttpsFetchTest::serve);
    server.start();
  }

  @Test
  void refusesAFileThatDoesNotMatchThePublishedSha256(@TempDir Path dest) throws IOException {
    writeSums(checkpoint("bad-sum"), TinyCheckpoint.SHARD2);

    WeightsException e = assertThrows(WeightsException.class, () -> TinyCheckpoint.fetch(source("bad-sum"), dest));

    assertTrue(e.getMessage().startsWith(base + "bad-sum/: checksum mismatch for " + base + "bad-sum/"
        + TinyCheckpoint.SHARD2 + ": SHA-256 expected " + "0".repeat(64) + ", got "), e.getMessage());
    assertFalse(Files.exists(dest.resolve(TinyCheckpoint.SHARD2)));
  }

  @Test
  void aMissingShardNamesTheUriAndTheFile(@TempDir Path dest) throws IOException {
    Files.delete(checkpoint("missing").resolve(TinyCheckpoint.SHARD2));

    WeightsException e = assertThrows(WeightsException.class, () -> TinyCheckpoint.fetch(source("missing"), dest));

    assertEquals(base + "missing/: " + TinyCheckpoint.SHARD2 + " not found at " + base + "missing/" + TinyCheckpoint.SHARD2
        + " (HTTP 404)", e.getMessage());
  }

  @Test
  void aServerWithAnUntrustedCertificateIsRefused(@TempDir Path dest) throws IOException {
    checkpoint("untrusted");

    WeightsException e = assertThrows(WeightsException.class,
        () -> TinyCheckpoint.fetch(WeightsSource.of(base + "untrusted/", null, "us-east-1", null, null), dest));

    assertTrue(e.getMessage().startsWith(base + "untrusted/: cannot read " + base + "untrusted/SHA256SUMS: TLS handshake"
        + " failed"), e.getMessage());
  }
}

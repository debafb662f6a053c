package dev.moe.runtime.weights;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * fetch-weights against a real S3-compatible server: moto's, started on loopback with its
 * authentication on (it checks each request's SigV4 signature against its IAM users), filled by
 * boto3, so our signer, listing, checksums and errors meet another implementation's.
 */
class S3FetchTest {

  private static final String BUCKET = "weights";
  private static final String URI_ = "s3://" + BUCKET + "/models/tiny";

  @TempDir static Path shared;
  private static Process moto;
  private static URI endpoint;
  private static SigV4.Credentials credentials;
  private static Path checkpoint;

  @BeforeAll
  static void startMoto() throws Exception {
    Process p = new ProcessBuilder("scripts/moto-python").redirectError(ProcessBuilder.Redirect.INHERIT).start();
    String python = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
    if (p.waitFor() != 0 || python.isEmpty()) {
      fail("scripts/moto-python could not provide a Python with moto[server] (it installs it from PyPI on first use)");
    }
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    moto = new ProcessBuilder(python, "-m", "moto.server", "-H", "127.0.0.1", "-p", String.valueOf(port))
        .redirectErrorStream(true).redirectOutput(shared.resolve("moto.log").toFile()).start();
    endpoint = URI.create("http://127.0.0.1:" + port);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (true) {
      try (Socket s = new Socket("127.0.0.1", port)) {
        break;
      } catch (IOException notYet) {
        if (System.nanoTime() > deadline || !moto.isAlive()) {
          fail("moto did not start: " + Files.readString(shared.resolve("moto.log")));
        }
        Thread.sleep(100);
      }
    }
    checkpoint = TinyCheckpoint.write(shared.resolve("checkpoint"));
    Process setup = new ProcessBuilder(python, "src/test/resources/weights/moto_setup.py", endpoint.toString(), BUCKET,
        "models/tiny", checkpoint.toString()).redirectError(ProcessBuilder.Redirect.INHERIT).start();
    String[] key = new String(setup.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip().split(" ");
    assertEquals(0, setup.waitFor(), "moto_setup.py");
    credentials = new SigV4.Credentials(key[0], key[1], null);
  }

  @AfterAll
  static void stopMoto() {
    if (moto != null) {
      moto.destroy();
    }
  }

  private static WeightsSource source(String uri, SigV4.Credentials creds) {
    return WeightsSource.of(uri, endpoint, "us-east-1", creds, null);
  }

  @Test
  void fetchesEveryObjectVerifiedAndKeepsThemOnTheNextRun(@TempDir Path dest) throws IOException {
    TinyCheckpoint.Run first = TinyCheckpoint.fetch(source(URI_, credentials), dest);

    TinyCheckpoint.assertSameFiles(checkpoint, dest);
    assertEquals(new WeightsFetcher.Summary(5, 0, 0, TinyCheckpoint.totalBytes(checkpoint)), first.summary());
    // Shards were uploaded with a SHA-256 checksum, the rest carry only their MD5 ETag.
    assertTrue(first.log().contains("fetched " + TinyCheckpoint.SHARD1 + " (" + TinyCheckpoint.SHARD_BYTES
        + " bytes, verified: size, MD5, SHA-256)"), first.log());
    assertTrue(first.log().contains("fetched config.json (23 bytes, verified: size, MD5)"), first.log());

    TinyCheckpoint.Run again = TinyCheckpoint.fetch(source(URI_, credentials), dest);
    assertEquals(new WeightsFetcher.Summary(5, 5, 0, 0), again.summary());
  }

  @Test
  void continuesAPartialFileWithoutDownloadingItsBytesAgain(@TempDir Path dest) throws IOException {
    int have = 100_000;
    Path part = dest.resolve(WeightsFetcher.PARTIAL_DIR).resolve(TinyCheckpoint.SHARD2);
    Files.createDirectories(part.getParent());
    Files.write(part, Arrays.copyOf(Files.readAllBytes(checkpoint.resolve(TinyCheckpoint.SHARD2)), have));

    TinyCheckpoint.Run run = TinyCheckpoint.fetch(source(URI_, credentials), dest);

    TinyCheckpoint.assertSameFiles(checkpoint, dest);
    assertEquals(new WeightsFetcher.Summary(5, 0, 1, TinyCheckpoint.totalBytes(checkpoint) - have), run.summary());
    assertTrue(run.log().contains("resuming " + TinyCheckpoint.SHARD2 + " at byte " + have), run.log());
  }

  @Test
  void refusesAFileWhoseChecksumDoesNotMatch(@TempDir Path dest) throws IOException {
    // A partial file whose bytes differ from the object's: the size comes out right, the hashes do not.
    Path part = dest.resolve(WeightsFetcher.PARTIAL_DIR).resolve(TinyCheckpoint.SHARD1);
    Files.createDirectories(part.getParent());
    Files.write(part, new byte[1000]);

    WeightsException e = assertThrows(WeightsException.class, () -> TinyCheckpoint.fetch(source(URI_, credentials), dest));

    assertTrue(e.getMessage().startsWith(URI_ + ": checksum mismatch for " + endpoint + "/weights/models/tiny/"
        + TinyCheckpoint.SHARD1 + ": MD5 expected "), e.getMessage());
    assertFalse(Files.exists(dest.resolve(TinyCheckpoint.SHARD1)), "an unverified file never takes its name");
    assertFalse(Files.exists(part), "the bad partial file is deleted, so the next run starts over");
  }

  @Test
  void badCredentialsFailTheCommandWithTheUriInTheMessage(@TempDir Path dir) throws Exception {
    CliRun run = CliRun.fetchWeights(dir, Map.of("AWS_ACCESS_KEY_ID", credentials.accessKeyId(),
        "AWS_SECRET_ACCESS_KEY", "not-the-secret"), "--uri=" + URI_, "--s3-endpoint=" + endpoint);

    assertEquals(1, run.exitCode(), run.stderr());
    String expected = "worker-runtime: error: " + URI_ + ": access denied to " + endpoint + "/weights/?list-type=2&prefix="
        + "models%2Ftiny%2F (HTTP 403 SignatureDoesNotMatch";
    assertTrue(run.stderr().startsWith(expected), run.stderr());
    assertTrue(run.terminationMessage().startsWith(URI_ + ": access denied"), run.terminationMessage());
    assertTrue(run.destFiles().isEmpty());
  }

  @Test
  void aMissingBucketOrPrefixFailsTheCommandWithTheUriInTheMessage(@TempDir Path dir) throws Exception {
    Map<String, String> env = Map.of("AWS_ACCESS_KEY_ID", credentials.accessKeyId(), "AWS_SECRET_ACCESS_KEY",
        credentials.secretAccessKey(), "AWS_ENDPOINT_URL_S3", endpoint.toString());

    CliRun noPrefix = CliRun.fetchWeights(dir.resolve("a"), env, "--uri=s3://" + BUCKET + "/models/absent");
    assertEquals(1, noPrefix.exitCode(), noPrefix.stderr());
    assertEquals("s3://weights/models/absent: no objects under the prefix models/absent/ of bucket weights",
        noPrefix.terminationMessage());

    CliRun noBucket = CliRun.fetchWeights(dir.resolve("b"), env, "--uri=s3://absent/models/tiny");
    assertEquals(1, noBucket.exitCode(), noBucket.stderr());
    assertTrue(noBucket.terminationMessage().startsWith("s3://absent/models/tiny: bucket absent not found at "
        + endpoint + "/absent/"), noBucket.terminationMessage());
    assertTrue(noBucket.stderr().contains("NoSuchBucket"), noBucket.stderr());
  }
}

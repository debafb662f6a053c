package dev.moe.runtime.cli;

import dev.moe.runtime.weights.SigV4;
import dev.moe.runtime.weights.WeightsFetcher;
import dev.moe.runtime.weights.WeightsSource;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

/**
 * {@code fetch-weights}: downloads a checkpoint from S3 (or an S3-compatible server) or an HTTPS
 * directory into a local directory, resumably and verified; the operator runs it as the workers'
 * init container. A failure's message, which names the URI, also goes to the termination message
 * file, so Kubernetes shows it in the pod's status.
 */
@Command(
    name = "fetch-weights",
    mixinStandardHelpOptions = true,
    description = {"Fetches a checkpoint from s3://BUCKET/PREFIX, https://HOST/PATH/ or hf://ORG/MODEL into a"
        + " directory, continuing partial files and verifying sizes and checksums.",
        "S3 credentials come from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN (anonymous when unset)."})
public final class FetchWeightsCommand implements Callable<Integer> {

  @ParentCommand WorkerCli parent;

  @Option(names = "--uri", required = true, paramLabel = "URI", description = "Where the checkpoint is.")
  String uri;

  @Option(names = "--dest", required = true, paramLabel = "DIR", description = "The directory the files go into.")
  Path dest;

  @Option(names = "--s3-endpoint", paramLabel = "URL", defaultValue = "${env:AWS_ENDPOINT_URL_S3:-${env:AWS_ENDPOINT_URL}}",
      description = "An S3-compatible server, addressed path-style (default: AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL;"
          + " unset: AWS).")
  URI s3Endpoint;

  @Option(names = "--s3-region", paramLabel = "REGION",
      defaultValue = "${env:AWS_REGION:-${env:AWS_DEFAULT_REGION:-us-east-1}}",
      description = "The region requests are signed for (default: AWS_REGION, AWS_DEFAULT_REGION or us-east-1).")
  String s3Region;

  @Option(names = "--ca-bundle", paramLabel = "PEM",
      description = "Trust only these CA certificates (PEM) instead of the JDK's, for servers with a private CA.")
  Path caBundle;

  @Option(names = "--termination-message-path", paramLabel = "FILE", defaultValue = "/dev/termination-log",
      description = "Where a failure's message is also written, when the file exists (Kubernetes makes it;"
          + " default: ${DEFAULT-VALUE}, its terminationMessagePath).")
  Path terminationMessage;

  @Override
  public Integer call() throws IOException {
    try {
      var source = WeightsSource.of(uri, s3Endpoint, s3Region, SigV4.Credentials.fromEnv(System.getenv()), caBundle);
      var summary = new WeightsFetcher(source, dest, parent.out).fetch();
      parent.out.printf("%s: %d files in %s (%d kept, %d resumed), %d bytes downloaded%n", uri, summary.files(), dest,
          summary.kept(), summary.resumed(), summary.bytesDownloaded());
      return 0;
    } catch (RuntimeException e) {
      writeTerminationMessage(e.getMessage());
      throw e;
    }
  }

  private void writeTerminationMessage(String message) {
    if (message == null || !Files.isRegularFile(terminationMessage)) {
      return;
    }
    try {
      Files.writeString(terminationMessage, message + "\n", StandardCharsets.UTF_8);
    } catch (IOException e) {
      // stderr still has the message; Kubernetes falls back to the log's tail.
    }
  }
}

package dev.moe.runtime.cli;

import dev.moe.runtime.tls.ModelTls;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** {@code serve}'s TLS identity: the files of the model's Secret, as the operator mounts them. */
public final class TlsOptions {

  @Option(names = "--tls-cert", paramLabel = "FILE",
      description = "This worker's certificate (PEM), issued by the model's CA: mutual TLS on the transport and"
          + " HTTPS on --control. Re-read when it changes, for new connections.")
  Path certificate;

  @Option(names = "--tls-key", paramLabel = "FILE", description = "The certificate's private key (PEM, PKCS#8).")
  Path key;

  @Option(names = "--tls-ca", paramLabel = "FILE",
      description = "The model's CA certificate (PEM): the only issuer whose peers are accepted.")
  Path ca;

  /** The identity, or null when none of the three options is given; some but not all is a mistake. */
  ModelTls load() {
    int given = (certificate == null ? 0 : 1) + (key == null ? 0 : 1) + (ca == null ? 0 : 1);
    if (given == 0) {
      return null;
    }
    if (given < 3) {
      throw new IllegalArgumentException("--tls-cert, --tls-key and --tls-ca go together: give all three or none");
    }
    return ModelTls.fromFiles(certificate, key, ca);
  }
}

package dev.moe.runtime.weights;

import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import java.util.Collection;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.TrustManagerFactory;

/**
 * The HTTP client of a fetch: HTTP/1.1, redirects that never go from https to http, and an
 * optional CA bundle (PEM) trusted instead of the JDK's roots, for servers with a private CA.
 * Failures to reach the server become {@link WeightsException}s naming the weights' URI.
 */
final class WeightsHttp {

  private final HttpClient client;
  private final String uri;

  WeightsHttp(String uri, Path caBundle) {
    this.uri = uri;
    HttpClient.Builder b = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
        .followRedirects(HttpClient.Redirect.NORMAL).connectTimeout(Duration.ofSeconds(20));
    if (caBundle != null) {
      b.sslContext(trusting(caBundle));
    }
    this.client = b.build();
  }

  private static SSLContext trusting(Path caBundle) {
    try (InputStream in = Files.newInputStream(caBundle)) {
      Collection<? extends Certificate> certs = CertificateFactory.getInstance("X.509").generateCertificates(in);
      if (certs.isEmpty()) {
        throw new IllegalArgumentException("--ca-bundle " + caBundle + " holds no PEM certificate");
      }
      KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
      store.load(null, null);
      int i = 0;
      for (Certificate c : certs) {
        store.setCertificateEntry("ca-" + i++, c);
      }
      TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      tmf.init(store);
      SSLContext ctx = SSLContext.getInstance("TLS");
      ctx.init(null, tmf.getTrustManagers(), null);
      return ctx;
    } catch (IOException | GeneralSecurityException e) {
      throw new IllegalArgumentException("--ca-bundle " + caBundle + " cannot be read as PEM certificates: " + e.getMessage(), e);
    }
  }

  /** Sends a request whose (small) body is read as text. */
  HttpResponse<String> text(HttpRequest request) {
    return send(request, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
  }

  /** Sends a request whose body is streamed. */
  HttpResponse<InputStream> stream(HttpRequest request) {
    return send(request, HttpResponse.BodyHandlers.ofInputStream());
  }

  private <T> HttpResponse<T> send(HttpRequest request, HttpResponse.BodyHandler<T> handler) {
    try {
      return client.send(request, handler);
    } catch (IOException e) {
      throw unreachable(request.uri(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new WeightsException(uri + ": interrupted while reading " + request.uri(), e);
    }
  }

  /** A transfer that broke off: the URI, the address and the reason in words. */
  WeightsException unreachable(URI location, IOException e) {
    String why = switch (e) {
      case ConnectException c -> "connection refused";
      case HttpTimeoutException t -> "timed out";
      case SSLHandshakeException s -> "TLS handshake failed (" + s.getMessage()
          + "; a server with a private CA needs --ca-bundle)";
      default -> e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    };
    return new WeightsException(uri + ": cannot read " + location + ": " + why, e);
  }
}

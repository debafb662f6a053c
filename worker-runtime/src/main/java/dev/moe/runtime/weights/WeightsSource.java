package dev.moe.runtime.weights;

import java.io.InputStream;
import java.net.http.HttpResponse;
import java.net.URI;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.Locale;

/** Where a checkpoint's files come from: what they are, and how each is read from a byte offset on. */
public interface WeightsSource {

  /**
   * The source for {@code uri}: s3:// (with {@code s3Endpoint} for S3-compatible servers, null for
   * AWS; anonymous when {@code credentials} is null), https:// or http://, or hf://.
   * {@code caBundle}, when not null, is the only CA trusted.
   */
  static WeightsSource of(String uri, URI s3Endpoint, String region, SigV4.Credentials credentials, Path caBundle) {
    String scheme = uri.contains("://") ? uri.substring(0, uri.indexOf("://")).toLowerCase(Locale.ROOT) : "";
    WeightsHttp http = new WeightsHttp(uri, caBundle);
    return switch (scheme) {
      case "s3" -> new S3Source(uri, s3Endpoint, region, credentials, http, Clock.systemUTC());
      case "https", "http", "hf" -> new HttpsSource(uri, http);
      default -> throw new IllegalArgumentException(uri + ": cannot fetch weights from this URI: the schemes are"
          + " s3://BUCKET/PREFIX, https://HOST/PATH/ (a Hugging Face-style directory) and hf://ORG/MODEL");
    };
  }

  /** The URI as the user gave it: every message names it. */
  String uri();

  /** The checkpoint's files with the sizes and checksums the source gives; config.json among them. */
  List<RemoteFile> files();

  /**
   * Starts reading {@code file} from byte {@code offset} on (a Range request when offset > 0); the
   * response may be 206, 200 (the whole file: the server ignored the range) or an error.
   */
  HttpResponse<InputStream> open(RemoteFile file, long offset);

  /** The message for a refused request: the URI, the object, and why (with the server's own words). */
  WeightsException refused(RemoteFile file, int status, String body);
}

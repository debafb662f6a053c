package dev.moe.runtime.weights;

import java.net.URI;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.HexFormat;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * AWS Signature Version 4 for requests without a body (S3's ListObjectsV2, HeadObject, GetObject):
 * the few lines of it that S3 needs, so the image carries no AWS SDK. The URI must already be
 * encoded the way {@link #encode} does it, since S3 signs the path as sent.
 */
public final class SigV4 {

  /** SHA-256 of the empty payload. */
  static final String EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
  private static final DateTimeFormatter AMZ_DATE =
      DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'").withZone(ZoneOffset.UTC);

  /** Access key, secret and (for temporary credentials) the session token, or null. */
  public record Credentials(String accessKeyId, String secretAccessKey, String sessionToken) {

    /** From AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN; null when no key is set. */
    public static Credentials fromEnv(Map<String, String> env) {
      String key = env.get("AWS_ACCESS_KEY_ID");
      String secret = env.get("AWS_SECRET_ACCESS_KEY");
      if (blank(key) && blank(secret)) {
        return null;
      }
      if (blank(key) || blank(secret)) {
        throw new IllegalArgumentException("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together");
      }
      String token = env.get("AWS_SESSION_TOKEN");
      return new Credentials(key, secret, blank(token) ? null : token);
    }

    private static boolean blank(String s) {
      return s == null || s.isBlank();
    }
  }

  private final Credentials credentials;
  private final String region;
  private final String service;

  public SigV4(Credentials credentials, String region, String service) {
    this.credentials = credentials;
    this.region = region;
    this.service = service;
  }

  /**
   * A request for {@code method} on {@code uri} carrying {@code headers} (x-amz-* headers among
   * them are signed too), signed at {@code now}.
   */
  public HttpRequest.Builder sign(String method, URI uri, Map<String, String> headers, Instant now) {
    String amzDate = AMZ_DATE.format(now);
    String day = amzDate.substring(0, 8);
    TreeMap<String, String> signed = new TreeMap<>();
    signed.put("host", hostHeader(uri));
    signed.put("x-amz-content-sha256", EMPTY_SHA256);
    signed.put("x-amz-date", amzDate);
    if (credentials.sessionToken() != null) {
      signed.put("x-amz-security-token", credentials.sessionToken());
    }
    headers.forEach((k, v) -> {
      if (k.toLowerCase(Locale.ROOT).startsWith("x-amz-")) {
        signed.put(k.toLowerCase(Locale.ROOT), v.strip());
      }
    });
    String signedHeaders = String.join(";", signed.keySet());
    String canonical = String.join("\n", method, uri.getRawPath().isEmpty() ? "/" : uri.getRawPath(),
        canonicalQuery(uri.getRawQuery()),
        signed.entrySet().stream().map(e -> e.getKey() + ":" + e.getValue() + "\n").collect(Collectors.joining()),
        signedHeaders, EMPTY_SHA256);
    String scope = day + "/" + region + "/" + service + "/aws4_request";
    String toSign = String.join("\n", "AWS4-HMAC-SHA256", amzDate, scope, hex(sha256(canonical)));
    byte[] key = hmac(("AWS4" + credentials.secretAccessKey()).getBytes(StandardCharsets.UTF_8), day);
    for (String part : new String[] {region, service, "aws4_request"}) {
      key = hmac(key, part);
    }
    String authorization = "AWS4-HMAC-SHA256 Credential=" + credentials.accessKeyId() + "/" + scope
        + ", SignedHeaders=" + signedHeaders + ", Signature=" + hex(hmac(key, toSign));
    HttpRequest.Builder b = HttpRequest.newBuilder(uri).method(method, HttpRequest.BodyPublishers.noBody());
    headers.forEach(b::header);
    signed.forEach((k, v) -> {
      if (!k.equals("host") && !headers.containsKey(k)) {
        b.header(k, v);
      }
    });
    return b.header("Authorization", authorization);
  }

  /** The Host header java.net.http sends: the port only when the URI names one. */
  static String hostHeader(URI uri) {
    return uri.getPort() == -1 ? uri.getHost() : uri.getHost() + ":" + uri.getPort();
  }

  /** Query parameters sorted by name (they are already encoded; a bare name gets an empty value). */
  private static String canonicalQuery(String rawQuery) {
    if (rawQuery == null || rawQuery.isEmpty()) {
      return "";
    }
    TreeMap<String, String> params = new TreeMap<>();
    for (String p : rawQuery.split("&")) {
      int eq = p.indexOf('=');
      params.put(eq < 0 ? p : p.substring(0, eq), eq < 0 ? "" : p.substring(eq + 1));
    }
    return params.entrySet().stream().map(e -> e.getKey() + "=" + e.getValue()).collect(Collectors.joining("&"));
  }

  /** RFC 3986 percent-encoding of everything but unreserved characters (and '/' when kept). */
  public static String encode(String s, boolean keepSlash) {
    StringBuilder out = new StringBuilder();
    for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
      char c = (char) (b & 0xff);
      if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'
          || c == '.' || c == '~' || (keepSlash && c == '/')) {
        out.append(c);
      } else {
        out.append('%').append(HexFormat.of().withUpperCase().toHexDigits(b));
      }
    }
    return out.toString();
  }

  private static byte[] sha256(String s) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  private static byte[] hmac(byte[] key, String data) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(key, "HmacSHA256"));
      return mac.doFinal(data.getBytes(StandardCharsets.UTF_8));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  private static String hex(byte[] b) {
    return HexFormat.of().formatHex(b);
  }
}

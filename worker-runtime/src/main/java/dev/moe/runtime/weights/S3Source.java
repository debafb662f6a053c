package dev.moe.runtime.weights;

import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.xml.XMLConstants;
import javax.xml.parsers.DocumentBuilderFactory;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

/**
 * {@code s3://bucket/prefix}: every object under the prefix (ListObjectsV2), each described by
 * HeadObject and read by GetObject, signed with SigV4 when credentials are given (anonymous
 * otherwise, for public buckets). Verified by size, by the ETag when it is the content's MD5 (a
 * single-part upload without SSE-KMS) and by x-amz-checksum-sha256 when the object was uploaded
 * with a whole-object SHA-256 checksum. A custom endpoint (S3-compatible servers) is addressed
 * path-style; AWS itself virtual-hosted-style.
 */
public final class S3Source implements WeightsSource {

  private final String uri;
  private final String bucket;
  /** "" or ending in '/'. */
  private final String prefix;
  /** The bucket's base address: objects are {@code base + key}. */
  private final String base;
  private final SigV4 signer;
  private final WeightsHttp http;
  private final Clock clock;

  S3Source(String uri, URI endpoint, String region, SigV4.Credentials credentials, WeightsHttp http, Clock clock) {
    this.uri = uri;
    String rest = uri.substring("s3://".length());
    int slash = rest.indexOf('/');
    this.bucket = slash < 0 ? rest : rest.substring(0, slash);
    String p = slash < 0 ? "" : rest.substring(slash + 1);
    this.prefix = p.isEmpty() || p.endsWith("/") ? p : p + "/";
    if (bucket.isEmpty()) {
      throw new IllegalArgumentException(uri + ": an S3 URI is s3://BUCKET/PREFIX");
    }
    if (endpoint == null) {
      this.base = "https://" + bucket + ".s3." + region + ".amazonaws.com/";
    } else {
      String e = endpoint.toString();
      this.base = (e.endsWith("/") ? e : e + "/") + SigV4.encode(bucket, false) + "/";
    }
    this.signer = credentials == null ? null : new SigV4(credentials, region, "s3");
    this.http = http;
    this.clock = clock;
  }

  @Override
  public String uri() {
    return uri;
  }

  @Override
  public List<RemoteFile> files() {
    Map<String, Long> listed = list();
    if (listed.isEmpty()) {
      throw new WeightsException(uri + ": no objects under " + (prefix.isEmpty() ? "the bucket" : "the prefix " + prefix)
          + " of bucket " + bucket);
    }
    List<RemoteFile> files = new ArrayList<>();
    for (var e : listed.entrySet()) {
      files.add(describe(e.getKey().substring(prefix.length()), URI.create(base + SigV4.encode(e.getKey(), true))));
    }
    return files;
  }

  /** Keys under the prefix (no "directory" markers) and their listed sizes, page by page. */
  private Map<String, Long> list() {
    Map<String, Long> keys = new LinkedHashMap<>();
    String token = null;
    do {
      URI page = URI.create(base + "?list-type=2&prefix=" + SigV4.encode(prefix, false)
          + (token == null ? "" : "&continuation-token=" + SigV4.encode(token, false)));
      HttpResponse<String> r = http.text(request("GET", page, Map.of()).build());
      if (r.statusCode() != 200) {
        throw refused(page, r.statusCode(), r.body());
      }
      Document doc = xml(r.body(), page);
      NodeList contents = doc.getElementsByTagName("Contents");
      for (int i = 0; i < contents.getLength(); i++) {
        Element c = (Element) contents.item(i);
        String key = text(c, "Key");
        if (key != null && !key.endsWith("/")) {
          keys.put(key, Long.parseLong(text(c, "Size")));
        }
      }
      token = "true".equals(text(doc.getDocumentElement(), "IsTruncated"))
          ? text(doc.getDocumentElement(), "NextContinuationToken") : null;
    } while (token != null);
    return keys;
  }

  private RemoteFile describe(String name, URI location) {
    HttpResponse<String> r = http.text(request("HEAD", location, Map.of("x-amz-checksum-mode", "ENABLED")).build());
    if (r.statusCode() != 200) {
      throw refused(location, r.statusCode(), r.body());
    }
    long size = r.headers().firstValueAsLong("content-length").orElse(-1);
    String etag = r.headers().firstValue("etag").orElse("").replace("\"", "");
    // SSE-KMS and multipart uploads ("…-N") have ETags that are not the content's MD5.
    boolean kms = r.headers().firstValue("x-amz-server-side-encryption").orElse("").startsWith("aws:kms");
    String md5 = !kms && etag.matches("[0-9a-fA-F]{32}") ? etag.toLowerCase() : null;
    // A composite (multipart) checksum ends in "-N" and is not the whole object's hash.
    String sha = r.headers().firstValue("x-amz-checksum-sha256").filter(v -> !v.contains("-"))
        .map(v -> HexFormat.of().formatHex(Base64.getDecoder().decode(v))).orElse(null);
    return new RemoteFile(name, location, size, md5, sha);
  }

  @Override
  public HttpResponse<InputStream> open(RemoteFile file, long offset) {
    return http.stream(
        request("GET", file.location(), offset > 0 ? Map.of("Range", "bytes=" + offset + "-") : Map.of()).build());
  }

  private HttpRequest.Builder request(String method, URI target, Map<String, String> headers) {
    if (signer != null) {
      return signer.sign(method, target, headers, clock.instant());
    }
    HttpRequest.Builder b = HttpRequest.newBuilder(target).method(method, HttpRequest.BodyPublishers.noBody());
    headers.forEach(b::header);
    return b;
  }

  @Override
  public WeightsException refused(RemoteFile file, int status, String body) {
    return refused(file.location(), status, body);
  }

  private WeightsException refused(URI location, int status, String body) {
    String code = null;
    String message = null;
    if (body != null && body.contains("<Error>")) {
      try {
        Element e = xml(body, location).getDocumentElement();
        code = text(e, "Code");
        message = text(e, "Message");
      } catch (WeightsException unparsed) {
        // The status alone still says enough.
      }
    }
    String server = " (HTTP " + status + (code == null ? "" : " " + code) + (message == null ? "" : ": " + message) + ")";
    String what = switch (status) {
      case 401, 403 -> "access denied to " + location + server
          + (signer == null ? "; no credentials were given (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)"
              : "; check the credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN)");
      case 404 -> ("NoSuchBucket".equals(code) ? "bucket " + bucket + " not found at " : "not found: ") + location + server;
      default -> "S3 refused " + location + server;
    };
    return new WeightsException(uri + ": " + what);
  }

  private Document xml(String body, URI location) {
    try {
      DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
      f.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
      f.setFeature(XMLConstants.FEATURE_SECURE_PROCESSING, true);
      return f.newDocumentBuilder().parse(new ByteArrayInputStream(body.getBytes(StandardCharsets.UTF_8)));
    } catch (Exception e) {
      throw new WeightsException(uri + ": " + location + " answered something that is not S3's XML: " + e.getMessage(), e);
    }
  }

  /** The text of {@code parent}'s first {@code name} element, or null. */
  private static String text(Element parent, String name) {
    NodeList l = parent.getElementsByTagName(name);
    return l.getLength() == 0 ? null : l.item(0).getTextContent();
  }
}

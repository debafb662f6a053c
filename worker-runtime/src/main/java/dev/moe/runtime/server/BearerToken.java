package dev.moe.runtime.server;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * The bearer token that guards a worker's statistics and placement endpoints, read from a file
 * (a mounted Kubernetes secret, say) so that it never appears on a command line.
 */
public final class BearerToken {

  private final byte[] digest;

  private BearerToken(String token) {
    this.digest = sha256(token);
  }

  /** The file's content without surrounding whitespace (a trailing newline is usual). */
  public static BearerToken fromFile(Path file) {
    String token;
    try {
      token = Files.readString(file, StandardCharsets.UTF_8).strip();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the token file " + file + ": " + e.getMessage(), e);
    }
    if (token.isEmpty()) {
      throw new IllegalArgumentException("the token file " + file + " is empty");
    }
    return new BearerToken(token);
  }

  public static BearerToken of(String token) {
    if (token.isBlank()) {
      throw new IllegalArgumentException("a bearer token must not be blank");
    }
    return new BearerToken(token.strip());
  }

  /**
   * Whether an {@code Authorization} header value carries this token. Digests are compared, in
   * constant time, so that neither the token's content nor its length leaks through timing.
   */
  public boolean accepts(String authorization) {
    if (authorization == null || !authorization.regionMatches(true, 0, "Bearer ", 0, 7)) {
      return false;
    }
    return MessageDigest.isEqual(digest, sha256(authorization.substring(7).strip()));
  }

  private static byte[] sha256(String s) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is missing from this JDK", e);
    }
  }
}

package dev.moe.runtime.weights;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.http.HttpResponse;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Fetches a source's files into a directory. A file is written to {@code .partial/NAME} beside
 * the destination and renamed to {@code NAME} only once its size and checksums match, so the
 * destination never holds a partial or unverified file. A partial file left by an interrupted run
 * is continued with a Range request (its bytes are hashed again, not downloaded again); a file
 * already at its name with the source's size is kept. A checksum mismatch deletes the partial
 * file, so the next run starts that file over.
 */
public final class WeightsFetcher {

  /** What a fetch did: files kept, fetched whole, continued, and the bytes it downloaded. */
  public record Summary(int files, int kept, int resumed, long bytesDownloaded) {}

  static final String PARTIAL_DIR = ".partial";
  private static final Pattern CONTENT_RANGE = Pattern.compile("bytes (\\d+)-\\d+/(\\d+|\\*)");

  private final WeightsSource source;
  private final Path dest;
  private final PrintStream log;

  public WeightsFetcher(WeightsSource source, Path dest, PrintStream log) {
    this.source = source;
    this.dest = dest.toAbsolutePath().normalize();
    this.log = log;
  }

  public Summary fetch() {
    List<RemoteFile> files = source.files();
    if (files.stream().noneMatch(f -> f.name().equals("config.json"))) {
      throw new WeightsException(source.uri() + ": no config.json among its files ("
          + String.join(", ", files.stream().map(RemoteFile::name).toList()) + "); the URI must name a checkpoint directory");
    }
    int kept = 0;
    int resumed = 0;
    long downloaded = 0;
    for (RemoteFile f : files) {
      Path target = inside(f.name());
      Path part = inside(PARTIAL_DIR + "/" + f.name());
      try {
        if (Files.isRegularFile(target) && (f.size() < 0 || Files.size(target) == f.size())) {
          log.println("kept " + f.name() + " (" + Files.size(target) + " bytes, verified when fetched)");
          kept++;
          continue;
        }
        Files.createDirectories(part.getParent());
        Files.createDirectories(target.getParent());
        long have = Files.isRegularFile(part) ? Files.size(part) : 0;
        if (f.size() >= 0 && have > f.size()) {
          have = 0;
        }
        long got = download(f, part, have);
        downloaded += got;
        Files.move(part, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        if (got < Files.size(target)) {
          resumed++;
        }
      } catch (IOException e) {
        throw new WeightsException(source.uri() + ": cannot write " + target + ": " + e.getMessage(), e);
      }
    }
    deleteEmpty(dest.resolve(PARTIAL_DIR));
    return new Summary(files.size(), kept, resumed, downloaded);
  }

  /**
   * Completes {@code part} (holding {@code have} bytes) from the source and verifies it; returns
   * the bytes downloaded.
   */
  private long download(RemoteFile f, Path part, long have) throws IOException {
    MessageDigest md5 = f.md5() == null ? null : digest("MD5");
    MessageDigest sha = f.sha256() == null ? null : digest("SHA-256");
    long start = have;
    if (f.size() < 0 || have < f.size()) {
      HttpResponse<InputStream> r = source.open(f, have);
      try (InputStream body = r.body()) {
        if (have > 0 && r.statusCode() == 200) {
          start = 0;  // The server sends the whole file: it ignored the Range.
        } else if (r.statusCode() == 206) {
          Matcher m = CONTENT_RANGE.matcher(r.headers().firstValue("content-range").orElse(""));
          if (!m.matches() || Long.parseLong(m.group(1)) != have) {
            throw new WeightsException(source.uri() + ": " + f.location() + " answered a range request for byte " + have
                + " with Content-Range '" + r.headers().firstValue("content-range").orElse("") + "'");
          }
        } else if (r.statusCode() != 200) {
          throw source.refused(f, r.statusCode(), new String(body.readNBytes(8192), StandardCharsets.UTF_8));
        }
        if (start > 0) {
          log.println("resuming " + f.name() + " at byte " + start);
          hashPrefix(part, start, md5, sha);
        }
        try (OutputStream out = Files.newOutputStream(part, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
            start > 0 ? StandardOpenOption.APPEND : StandardOpenOption.TRUNCATE_EXISTING)) {
          byte[] buf = new byte[1 << 16];
          try {
            for (int n; (n = body.read(buf)) > 0; ) {
              out.write(buf, 0, n);
              update(md5, sha, buf, n);
            }
          } catch (IOException e) {
            throw new WeightsException(source.uri() + ": the transfer of " + f.location() + " broke off after "
                + (Files.size(part) - start) + " bytes (" + e.getMessage() + "); a new run continues it", e);
          }
        }
      }
    } else {
      hashPrefix(part, have, md5, sha);
    }
    verify(f, part, md5, sha);
    try (FileChannel c = FileChannel.open(part, StandardOpenOption.WRITE)) {
      c.force(true);
    }
    long got = Files.size(part) - start;
    log.println("fetched " + f.name() + " (" + Files.size(part) + " bytes" + (start > 0 ? ", " + got + " downloaded" : "")
        + checks(f) + ")");
    return got;
  }

  private void verify(RemoteFile f, Path part, MessageDigest md5, MessageDigest sha) throws IOException {
    long size = Files.size(part);
    if (f.size() >= 0 && size != f.size()) {
      throw new WeightsException(source.uri() + ": " + f.location() + " gave " + size + " bytes, expected " + f.size()
          + "; a new run continues it");
    }
    mismatch(f, part, "MD5", f.md5(), md5);
    mismatch(f, part, "SHA-256", f.sha256(), sha);
  }

  private void mismatch(RemoteFile f, Path part, String algorithm, String expected, MessageDigest d) throws IOException {
    if (d == null) {
      return;
    }
    String actual = HexFormat.of().formatHex(d.digest());
    if (!actual.equals(expected)) {
      Files.delete(part);
      throw new WeightsException(source.uri() + ": checksum mismatch for " + f.location() + ": " + algorithm
          + " expected " + expected + ", got " + actual + " (the partial file was deleted)");
    }
  }

  private static String checks(RemoteFile f) {
    String s = (f.size() >= 0 ? ", size" : "") + (f.md5() != null ? ", MD5" : "") + (f.sha256() != null ? ", SHA-256" : "");
    return s.isEmpty() ? ", nothing to verify against" : s.replaceFirst(", ", ", verified: ");
  }

  private static void hashPrefix(Path part, long bytes, MessageDigest md5, MessageDigest sha) throws IOException {
    if (md5 == null && sha == null) {
      return;
    }
    try (InputStream in = Files.newInputStream(part)) {
      byte[] buf = new byte[1 << 16];
      long left = bytes;
      for (int n; left > 0 && (n = in.read(buf, 0, (int) Math.min(buf.length, left))) > 0; left -= n) {
        update(md5, sha, buf, n);
      }
    }
  }

  private static void update(MessageDigest md5, MessageDigest sha, byte[] buf, int n) {
    if (md5 != null) {
      md5.update(buf, 0, n);
    }
    if (sha != null) {
      sha.update(buf, 0, n);
    }
  }

  private static MessageDigest digest(String algorithm) {
    try {
      return MessageDigest.getInstance(algorithm);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** {@code name} under the destination; a name that would leave it (.., absolute) is refused. */
  private Path inside(String name) {
    Path p = dest.resolve(name).normalize();
    if (name.isEmpty() || name.startsWith("/") || !p.startsWith(dest) || p.equals(dest)) {
      throw new WeightsException(source.uri() + ": refusing the file name '" + name + "': it leaves the destination");
    }
    return p;
  }

  private static void deleteEmpty(Path dir) {
    try {
      Files.deleteIfExists(dir);
    } catch (IOException e) {
      // Not empty (files of another checkpoint): harmless.
    }
  }
}

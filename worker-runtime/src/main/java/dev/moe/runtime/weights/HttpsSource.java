package dev.moe.runtime.weights;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.moe.runtime.model.Checkpoint;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code https://host/path/}: a directory laid out as on the Hugging Face Hub. Required:
 * {@code config.json} and the weights, either {@code model.safetensors.index.json} and every shard
 * its weight_map names or a single {@code model.safetensors}. Fetched when present: the tokenizer
 * and generation files the worker reads (tokenizer.json, tokenizer_config.json,
 * special_tokens_map.json, generation_config.json, chat_template.jinja). Each file is described by
 * a HEAD request: Content-Length gives its size; its SHA-256 comes from a {@code SHA256SUMS} file
 * beside them (sha256sum's format) or from an ETag that is 64 hex digits (as the Hub's LFS files
 * have). {@code hf://org/model} is read as {@code https://huggingface.co/org/model/resolve/main/}.
 */
public final class HttpsSource implements WeightsSource {

  static final String SUMS = "SHA256SUMS";
  static final List<String> OPTIONAL = List.of("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
      "generation_config.json", "chat_template.jinja");
  private static final JsonMapper JSON = JsonMapper.builder().build();
  /** A line of sha256sum's output: "HASH  NAME" (text mode) or "HASH *NAME" (binary mode). */
  private static final Pattern SUM_LINE = Pattern.compile("^([0-9a-fA-F]{64}) [ *](.+)$");

  private final String uri;
  /** Ends in '/'. */
  private final String base;
  private final WeightsHttp http;

  HttpsSource(String uri, WeightsHttp http) {
    this.uri = uri;
    String b = uri.startsWith("hf://") ? "https://huggingface.co/" + uri.substring("hf://".length()).replaceAll("/+$", "")
        + "/resolve/main/" : uri;
    this.base = b.endsWith("/") ? b : b + "/";
    this.http = http;
  }

  @Override
  public String uri() {
    return uri;
  }

  @Override
  public List<RemoteFile> files() {
    Map<String, String> sums = sums();
    List<RemoteFile> files = new ArrayList<>();
    files.add(required(Checkpoint.CONFIG, sums));
    RemoteFile index = describe(Checkpoint.INDEX, sums);
    if (index != null) {
      files.add(index);
      for (String shard : shards(index)) {
        files.add(required(shard, sums));
      }
    } else {
      RemoteFile single = describe(Checkpoint.SINGLE, sums);
      if (single == null) {
        throw new WeightsException(uri + ": neither " + Checkpoint.INDEX + " nor " + Checkpoint.SINGLE + " found at "
            + base);
      }
      files.add(single);
    }
    for (String name : OPTIONAL) {
      RemoteFile f = describe(name, sums);
      if (f != null) {
        files.add(f);
      }
    }
    return files;
  }

  /** SHA256SUMS beside the files, when published: name -> hex SHA-256. */
  private Map<String, String> sums() {
    URI location = location(SUMS);
    HttpResponse<String> r = http.text(HttpRequest.newBuilder(location).GET().build());
    Map<String, String> sums = new HashMap<>();
    if (r.statusCode() == 404) {
      return sums;
    }
    if (r.statusCode() != 200) {
      throw refused(location, r.statusCode());
    }
    for (String line : r.body().split("\\R")) {
      Matcher m = SUM_LINE.matcher(line.strip());
      if (m.matches()) {
        sums.put(m.group(2).replaceFirst("^\\./", ""), m.group(1).toLowerCase());
      }
    }
    return sums;
  }

  /** The shards the index's weight_map names. */
  private TreeSet<String> shards(RemoteFile index) {
    HttpResponse<String> r = http.text(HttpRequest.newBuilder(index.location()).GET().build());
    if (r.statusCode() != 200) {
      throw refused(index, r.statusCode(), r.body());
    }
    TreeSet<String> shards = new TreeSet<>();
    try {
      JsonNode map = JSON.readTree(r.body()).path("weight_map");
      map.properties().forEach(e -> shards.add(e.getValue().asText()));
    } catch (Exception e) {
      throw new WeightsException(uri + ": " + index.location() + " is not a safetensors index: " + e.getMessage(), e);
    }
    if (shards.isEmpty()) {
      throw new WeightsException(uri + ": " + index.location() + " names no shards in its weight_map");
    }
    return shards;
  }

  private RemoteFile required(String name, Map<String, String> sums) {
    RemoteFile f = describe(name, sums);
    if (f == null) {
      throw new WeightsException(uri + ": " + name + " not found at " + location(name) + " (HTTP 404)");
    }
    return f;
  }

  /** HEAD of one file; null when the server says 404. */
  private RemoteFile describe(String name, Map<String, String> sums) {
    URI location = location(name);
    HttpResponse<String> r = http.text(HttpRequest.newBuilder(location).method("HEAD", HttpRequest.BodyPublishers.noBody())
        .build());
    if (r.statusCode() == 404) {
      return null;
    }
    if (r.statusCode() != 200) {
      throw refused(location, r.statusCode());
    }
    String etag = r.headers().firstValue("etag").orElse("");
    String sha = sums.get(name);
    if (sha == null && etag.matches("\"?[0-9a-fA-F]{64}\"?")) {
      sha = etag.replace("\"", "").toLowerCase();
    }
    return new RemoteFile(name, location, r.headers().firstValueAsLong("content-length").orElse(-1), null, sha);
  }

  private URI location(String name) {
    return URI.create(base + SigV4.encode(name, true));
  }

  @Override
  public HttpResponse<InputStream> open(RemoteFile file, long offset) {
    HttpRequest.Builder b = HttpRequest.newBuilder(file.location()).GET();
    return http.stream((offset > 0 ? b.header("Range", "bytes=" + offset + "-") : b).build());
  }

  @Override
  public WeightsException refused(RemoteFile file, int status, String body) {
    return refused(file.location(), status);
  }

  private WeightsException refused(URI location, int status) {
    String what = switch (status) {
      case 401, 403 -> "access denied to " + location + " (HTTP " + status + ")";
      case 404 -> location + " not found (HTTP 404)";
      default -> location + " answered HTTP " + status;
    };
    return new WeightsException(uri + ": " + what);
  }
}

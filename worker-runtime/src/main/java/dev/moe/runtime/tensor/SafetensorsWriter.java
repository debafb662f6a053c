package dev.moe.runtime.tensor;

import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** Writes F32, I64 and I32 tensors as a safetensors file, in the order they were added. */
public final class SafetensorsWriter {

  private static final JsonMapper MAPPER = JsonMapper.builder().build();

  private record Entry(String name, DType dtype, long[] shape, ByteBuffer bytes) {}

  private final List<Entry> entries = new ArrayList<>();
  private final Set<String> names = new HashSet<>();
  private final Map<String, String> metadata = new LinkedHashMap<>();

  public SafetensorsWriter add(String name, float[] data, long... shape) {
    ByteBuffer b = buffer(name, DType.F32, data.length, shape);
    b.asFloatBuffer().put(data);
    return add(name, DType.F32, shape, b);
  }

  public SafetensorsWriter add(String name, long[] data, long... shape) {
    ByteBuffer b = buffer(name, DType.I64, data.length, shape);
    b.asLongBuffer().put(data);
    return add(name, DType.I64, shape, b);
  }

  public SafetensorsWriter add(String name, int[] data, long... shape) {
    ByteBuffer b = buffer(name, DType.I32, data.length, shape);
    b.asIntBuffer().put(data);
    return add(name, DType.I32, shape, b);
  }

  /** A {@code __metadata__} entry. */
  public SafetensorsWriter metadata(String key, String value) {
    metadata.put(key, value);
    return this;
  }

  /** The tensors' names, in the order they were added. */
  public List<String> names() {
    return entries.stream().map(Entry::name).toList();
  }

  /** The tensors' bytes, all together (the file less its header). */
  public long dataBytes() {
    return entries.stream().mapToLong(e -> e.bytes().capacity()).sum();
  }

  private ByteBuffer buffer(String name, DType dtype, int length, long[] shape) {
    if (name.equals("__metadata__") || !names.add(name)) {
      throw new IllegalArgumentException("tensor name '" + name + "' is reserved or already added");
    }
    long numel = TensorView.numel(shape);
    if (numel != length) {
      throw new IllegalArgumentException("tensor '" + name + "': shape " + TensorView.shapeString(shape)
          + " has " + numel + " elements, but " + length + " values were given");
    }
    return ByteBuffer.allocate(Math.multiplyExact(length, dtype.size())).order(ByteOrder.LITTLE_ENDIAN);
  }

  private SafetensorsWriter add(String name, DType dtype, long[] shape, ByteBuffer bytes) {
    entries.add(new Entry(name, dtype, shape.clone(), bytes));
    return this;
  }

  /**
   * Writes the file: to a temporary file beside it, then moved into place, so a reader never sees
   * a half-written file.
   */
  public void write(Path file) {
    ObjectNode header = MAPPER.createObjectNode();
    if (!metadata.isEmpty()) {
      ObjectNode meta = header.putObject("__metadata__");
      metadata.forEach(meta::put);
    }
    long offset = 0;
    for (Entry e : entries) {
      ObjectNode t = header.putObject(e.name());
      t.put("dtype", e.dtype().safetensorsName());
      ArrayNode shape = t.putArray("shape");
      for (long d : e.shape()) {
        shape.add(d);
      }
      long end = offset + e.bytes().capacity();
      t.putArray("data_offsets").add(offset).add(end);
      offset = end;
    }
    byte[] json = header.toString().getBytes(StandardCharsets.UTF_8);
    // Pad the header with spaces so the data starts 8-byte aligned, as the reference writer does.
    int padded = (json.length + 7) / 8 * 8;
    ByteBuffer prefix = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
    prefix.putLong(padded).put(json);
    while (prefix.hasRemaining()) {
      prefix.put((byte) ' ');
    }
    Path absolute = file.toAbsolutePath();
    Path tmp = null;
    try {
      tmp = Files.createTempFile(absolute.getParent(), "." + absolute.getFileName(), ".tmp");
      try (OutputStream out = Files.newOutputStream(tmp)) {
        out.write(prefix.array());
        for (Entry e : entries) {
          out.write(e.bytes().array());
        }
      }
      Files.move(tmp, absolute, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException e) {
      if (tmp != null) {
        try {
          Files.deleteIfExists(tmp);
        } catch (IOException ignored) {
          // The write already failed; that is the error to report.
        }
      }
      throw new UncheckedIOException("cannot write " + file + ": " + SafetensorsFile.ioReason(e), e);
    }
  }
}

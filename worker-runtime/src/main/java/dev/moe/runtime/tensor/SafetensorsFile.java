package dev.moe.runtime.tensor;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A safetensors file, memory-mapped: opening reads and validates only the header; a tensor's bytes
 * are paged in when first touched, so a worker that reads a few experts of a large shard reads
 * only those. Tensors stay valid until {@link #close()}; the mapping may be read from any thread.
 *
 * <p>Layout: an 8-byte little-endian header length N, N bytes of JSON {@code {name: {dtype, shape,
 * data_offsets: [begin, end]}, "__metadata__": {...}}}, then the data, offsets relative to its start.
 */
public final class SafetensorsFile implements AutoCloseable {

  /** The same bound as the reference implementation: a larger header is a corrupt length field. */
  static final long MAX_HEADER_BYTES = 100L * 1024 * 1024;

  private static final JsonMapper MAPPER =
      JsonMapper.builder().enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION).build();

  private final Path path;
  private final Arena arena;
  private final Map<String, TensorView> tensors;
  private final Map<String, String> metadata;

  private SafetensorsFile(Path path, Arena arena, Map<String, TensorView> tensors, Map<String, String> metadata) {
    this.path = path;
    this.arena = arena;
    this.tensors = tensors;
    this.metadata = metadata;
  }

  /** Maps {@code file} and validates its header; every problem is an {@link InvalidTensorFileException}. */
  public static SafetensorsFile open(Path file) {
    if (Files.isDirectory(file)) {
      throw fail(file, "is a directory, not a safetensors file");
    }
    Arena arena = Arena.ofShared();
    try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
      long size = channel.size();
      MemorySegment all = size == 0 ? MemorySegment.NULL : channel.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
      return parse(file, arena, all, size);
    } catch (IOException e) {
      arena.close();
      throw fail(file, ioReason(e));
    } catch (RuntimeException e) {
      arena.close();
      throw e;
    }
  }

  private static SafetensorsFile parse(Path file, Arena arena, MemorySegment all, long size) {
    if (size < 8) {
      throw fail(file, "truncated: " + size + " bytes, shorter than the 8-byte header length");
    }
    long headerLength = all.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0);
    if (headerLength < 0 || headerLength > MAX_HEADER_BYTES) {
      throw fail(file, "header length " + Long.toUnsignedString(headerLength) + " is not a plausible header size"
          + " (at most " + MAX_HEADER_BYTES + " bytes); not a safetensors file?");
    }
    if (8 + headerLength > size) {
      throw fail(file, "truncated: header length " + headerLength + " runs past the end of the file ("
          + size + " bytes)");
    }
    byte[] headerBytes = all.asSlice(8, headerLength).toArray(ValueLayout.JAVA_BYTE);
    JsonNode header;
    try {
      header = MAPPER.readTree(new String(headerBytes, StandardCharsets.UTF_8));
    } catch (JsonProcessingException e) {
      throw fail(file, "header is not valid JSON: " + e.getOriginalMessage().replaceAll("\\s*\\R\\s*", " "));
    }
    if (header == null || !header.isObject()) {
      throw fail(file, "header is not a JSON object");
    }
    long dataStart = 8 + headerLength;
    long dataSize = size - dataStart;
    MemorySegment data = all.asSlice(dataStart, dataSize);

    Map<String, String> metadata = new LinkedHashMap<>();
    Map<String, TensorView> tensors = new LinkedHashMap<>();
    List<long[]> ranges = new ArrayList<>();
    List<String> rangeNames = new ArrayList<>();
    for (Map.Entry<String, JsonNode> entry : header.properties()) {
      String name = entry.getKey();
      JsonNode value = entry.getValue();
      if (name.equals("__metadata__")) {
        readMetadata(file, value, metadata);
        continue;
      }
      if (!value.isObject()) {
        throw fail(file, "header entry '" + name + "' is not an object");
      }
      DType dtype = readDtype(file, name, value.get("dtype"));
      long[] shape = readShape(file, name, value.get("shape"));
      long[] offsets = readOffsets(file, name, value.get("data_offsets"));
      if (offsets[1] > dataSize) {
        throw fail(file, "tensor '" + name + "': data_offsets [" + offsets[0] + ", " + offsets[1]
            + "] run past the end of the data (" + dataSize + " bytes); the file is truncated or corrupt");
      }
      long bytes;
      try {
        bytes = Math.multiplyExact(TensorView.numel(shape), dtype.size());
      } catch (ArithmeticException e) {
        throw fail(file, "tensor '" + name + "': shape " + TensorView.shapeString(shape) + " is too large");
      }
      if (offsets[1] - offsets[0] != bytes) {
        throw fail(file, "tensor '" + name + "': " + dtype.safetensorsName() + " " + TensorView.shapeString(shape)
            + " needs " + bytes + " bytes, but data_offsets [" + offsets[0] + ", " + offsets[1] + "] hold "
            + (offsets[1] - offsets[0]));
      }
      ranges.add(offsets);
      rangeNames.add(name);
      tensors.put(name, new TensorView(name, dtype, shape, data.asSlice(offsets[0], bytes)));
    }
    checkOverlaps(file, ranges, rangeNames);
    return new SafetensorsFile(file, arena, Collections.unmodifiableMap(tensors), Collections.unmodifiableMap(metadata));
  }

  private static void readMetadata(Path file, JsonNode value, Map<String, String> metadata) {
    if (!value.isObject()) {
      throw fail(file, "__metadata__ is not an object");
    }
    for (Map.Entry<String, JsonNode> m : value.properties()) {
      if (!m.getValue().isTextual()) {
        throw fail(file, "__metadata__ entry '" + m.getKey() + "' is not a string");
      }
      metadata.put(m.getKey(), m.getValue().asText());
    }
  }

  private static DType readDtype(Path file, String name, JsonNode node) {
    if (node == null || !node.isTextual()) {
      throw fail(file, "tensor '" + name + "': missing or non-string \"dtype\"");
    }
    DType dtype = DType.fromSafetensorsName(node.asText());
    if (dtype == null) {
      throw fail(file, "tensor '" + name + "': unknown dtype '" + node.asText() + "' (known: " + DType.knownNames() + ")");
    }
    return dtype;
  }

  private static long[] readShape(Path file, String name, JsonNode node) {
    if (node == null || !node.isArray()) {
      throw fail(file, "tensor '" + name + "': missing or non-array \"shape\"");
    }
    long[] shape = new long[node.size()];
    for (int i = 0; i < shape.length; i++) {
      JsonNode d = node.get(i);
      if (!d.canConvertToExactIntegral() || !d.canConvertToLong() || d.asLong() < 0) {
        throw fail(file, "tensor '" + name + "': shape entry " + d + " is not a non-negative integer");
      }
      shape[i] = d.asLong();
    }
    return shape;
  }

  private static long[] readOffsets(Path file, String name, JsonNode node) {
    if (node == null || !node.isArray() || node.size() != 2) {
      throw fail(file, "tensor '" + name + "': \"data_offsets\" must be an array [begin, end]");
    }
    long[] offsets = new long[2];
    for (int i = 0; i < 2; i++) {
      JsonNode d = node.get(i);
      if (!d.canConvertToExactIntegral() || !d.canConvertToLong() || d.asLong() < 0) {
        throw fail(file, "tensor '" + name + "': data_offsets entry " + d + " is not a non-negative integer");
      }
      offsets[i] = d.asLong();
    }
    if (offsets[1] < offsets[0]) {
      throw fail(file, "tensor '" + name + "': data_offsets [" + offsets[0] + ", " + offsets[1] + "] end before they begin");
    }
    return offsets;
  }

  private static void checkOverlaps(Path file, List<long[]> ranges, List<String> names) {
    Integer[] order = new Integer[ranges.size()];
    for (int i = 0; i < order.length; i++) {
      order[i] = i;
    }
    Arrays.sort(order, Comparator.comparingLong((Integer i) -> ranges.get(i)[0]).thenComparingLong(i -> ranges.get(i)[1]));
    for (int i = 1; i < order.length; i++) {
      long[] prev = ranges.get(order[i - 1]);
      long[] cur = ranges.get(order[i]);
      // Empty tensors occupy no bytes, so they overlap nothing.
      if (cur[0] < prev[1] && cur[1] > cur[0] && prev[1] > prev[0]) {
        throw fail(file, "tensors '" + names.get(order[i - 1]) + "' [" + prev[0] + ", " + prev[1] + ") and '"
            + names.get(order[i]) + "' [" + cur[0] + ", " + cur[1] + ") overlap");
      }
    }
  }

  public Path path() {
    return path;
  }

  /** The tensor names, in header order. */
  public Set<String> names() {
    return tensors.keySet();
  }

  public boolean contains(String name) {
    return tensors.containsKey(name);
  }

  /** The header's {@code __metadata__} (empty when absent). */
  public Map<String, String> metadata() {
    return metadata;
  }

  /** The tensor {@code name}; a missing one is an error naming it and this file. */
  public TensorView tensor(String name) {
    TensorView t = tensors.get(name);
    if (t == null) {
      throw fail(path, "no tensor named '" + name + "'");
    }
    return t;
  }

  /** Unmaps the file: every {@link TensorView} of it becomes unusable. */
  @Override
  public void close() {
    arena.close();
  }

  private static InvalidTensorFileException fail(Path file, String problem) {
    return new InvalidTensorFileException(file + ": " + problem);
  }

  static String ioReason(IOException e) {
    return switch (e) {
      case NoSuchFileException x -> "no such file";
      case AccessDeniedException x -> "permission denied";
      case FileSystemException x when x.getReason() != null -> x.getReason();
      default -> e.getMessage() == null ? "I/O error" : e.getMessage();
    };
  }
}

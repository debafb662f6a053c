package dev.moe.runtime.tensor;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/** Test helper: safetensors files of any dtype, and deliberately broken ones, byte by byte. */
public final class RawSafetensors {

  /** One tensor: its safetensors dtype name, shape and raw little-endian bytes. */
  public record Raw(String dtype, long[] shape, byte[] data) {}

  private final Map<String, Raw> tensors = new LinkedHashMap<>();

  public RawSafetensors put(String name, String dtype, long[] shape, byte[] data) {
    tensors.put(name, new Raw(dtype, shape, data));
    return this;
  }

  public RawSafetensors f32(String name, float[] values, long... shape) {
    return put(name, "F32", shape, f32(values));
  }

  public RawSafetensors remove(String name) {
    tensors.remove(name);
    return this;
  }

  public Map<String, Raw> tensors() {
    return tensors;
  }

  /** Writes the tensors with consecutive offsets, header padded to 8 bytes. */
  public void write(Path file) {
    List<String> entries = new ArrayList<>();
    long offset = 0;
    for (Map.Entry<String, Raw> e : tensors.entrySet()) {
      Raw r = e.getValue();
      String shape = Arrays.stream(r.shape()).mapToObj(Long::toString).collect(Collectors.joining(","));
      entries.add("\"" + e.getKey() + "\":{\"dtype\":\"" + r.dtype() + "\",\"shape\":[" + shape
          + "],\"data_offsets\":[" + offset + "," + (offset + r.data().length) + "]}");
      offset += r.data().length;
    }
    ByteBuffer data = ByteBuffer.allocate((int) offset);
    tensors.values().forEach(r -> data.put(r.data()));
    writeRaw(file, "{" + String.join(",", entries) + "}", data.array());
  }

  /** A file of the given header text (padded with spaces to 8 bytes) and data bytes. */
  public static void writeRaw(Path file, String header, byte[] data) {
    byte[] json = header.getBytes(StandardCharsets.UTF_8);
    int padded = (json.length + 7) / 8 * 8;
    ByteBuffer b = ByteBuffer.allocate(8 + padded + data.length).order(ByteOrder.LITTLE_ENDIAN);
    b.putLong(padded).put(json);
    for (int i = json.length; i < padded; i++) {
      b.put((byte) ' ');
    }
    b.put(data);
    write(file, b.array());
  }

  public static void write(Path file, byte[] bytes) {
    try {
      Files.write(file, bytes);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public static byte[] f32(float... values) {
    ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
    for (float v : values) {
      b.putFloat(v);
    }
    return b.array();
  }

  public static byte[] bf16(float... values) {
    ByteBuffer b = ByteBuffer.allocate(values.length * 2).order(ByteOrder.LITTLE_ENDIAN);
    for (float v : values) {
      b.putShort(FloatFormats.floatToBf16(v));
    }
    return b.array();
  }

  public static byte[] f16(float... values) {
    ByteBuffer b = ByteBuffer.allocate(values.length * 2).order(ByteOrder.LITTLE_ENDIAN);
    for (float v : values) {
      b.putShort(Float.floatToFloat16(v));
    }
    return b.array();
  }

  public static byte[] i32(int... values) {
    ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
    for (int v : values) {
      b.putInt(v);
    }
    return b.array();
  }
}

package dev.moe.runtime.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsFileTest {

  @TempDir Path tmp;

  @Test
  void writerRoundTrips() throws Exception {
    Path file = tmp.resolve("t.safetensors");
    new SafetensorsWriter()
        .metadata("format", "pt")
        .add("output", new float[] {1.5f, -2f, 3.25f, 0f, 1e-8f, -0f}, 2, 3)
        .add("topk_ids", new long[] {7, Long.MAX_VALUE}, 2)
        .add("counts", new int[] {1, -2, 3}, 3, 1)
        .write(file);
    // 8-byte aligned data, as the reference writer does.
    long headerLength = ByteBuffer.wrap(Files.readAllBytes(file), 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
    assertEquals(0, headerLength % 8);
    try (SafetensorsFile f = SafetensorsFile.open(file)) {
      assertEquals(List.of("output", "topk_ids", "counts"), List.copyOf(f.names()));
      assertEquals("pt", f.metadata().get("format"));
      TensorView out = f.tensor("output");
      assertEquals(DType.F32, out.dtype());
      assertArrayEquals(new long[] {2, 3}, out.shape());
      assertArrayEquals(new float[] {1.5f, -2f, 3.25f, 0f, 1e-8f, -0f}, out.toFloats());
      assertEquals(DType.I64, f.tensor("topk_ids").dtype());
      assertArrayEquals(new long[] {7, Long.MAX_VALUE}, f.tensor("topk_ids").toLongs());
      assertEquals(DType.I32, f.tensor("counts").dtype());
      assertArrayEquals(new long[] {1, -2, 3}, f.tensor("counts").toLongs());
    }
  }

  @Test
  void writerRefusesAShapeThatDoesNotMatchTheData() {
    var e = assertThrows(IllegalArgumentException.class,
        () -> new SafetensorsWriter().add("x", new float[5], 2, 3));
    assertEquals("tensor 'x': shape [2, 3] has 6 elements, but 5 values were given", e.getMessage());
    assertThrows(IllegalArgumentException.class,
        () -> new SafetensorsWriter().add("x", new float[1], 1).add("x", new float[1], 1));
  }

  @Test
  void readsNarrowFloatDtypes() {
    Path file = tmp.resolve("narrow.safetensors");
    new RawSafetensors()
        .put("b", "BF16", new long[] {3}, RawSafetensors.bf16(1f, -0.5f, 3f))
        .put("h", "F16", new long[] {2}, RawSafetensors.f16(0.25f, -8f))
        .put("q", "F8_E4M3", new long[] {2}, new byte[] {0x38, (byte) 0xc0})
        .write(file);
    try (SafetensorsFile f = SafetensorsFile.open(file)) {
      assertArrayEquals(new float[] {1f, -0.5f, 3f}, f.tensor("b").toFloats());
      assertArrayEquals(new float[] {0.25f, -8f}, f.tensor("h").toFloats());
      assertArrayEquals(new float[] {1f, -2f}, f.tensor("q").toFloats());
      assertEquals(DType.F8_E4M3, f.tensor("q").dtype());
    }
  }

  @Test
  void truncatedBeforeTheHeaderLength() {
    Path file = tmp.resolve("short.safetensors");
    RawSafetensors.write(file, new byte[] {1, 2, 3, 4, 5});
    assertEquals(file + ": truncated: 5 bytes, shorter than the 8-byte header length", fail(file));
  }

  @Test
  void headerLengthPastTheEnd() {
    Path file = tmp.resolve("header.safetensors");
    ByteBuffer b = ByteBuffer.allocate(40).order(ByteOrder.LITTLE_ENDIAN).putLong(1000);
    RawSafetensors.write(file, b.array());
    assertEquals(file + ": truncated: header length 1000 runs past the end of the file (40 bytes)", fail(file));
  }

  @Test
  void implausibleHeaderLength() {
    Path file = tmp.resolve("junk.safetensors");
    RawSafetensors.write(file, "this is not a safetensors file at all".getBytes());
    assertTrue(fail(file).contains("is not a plausible header size"), fail(file));
  }

  @Test
  void dataTruncated() {
    Path file = tmp.resolve("data.safetensors");
    RawSafetensors.writeRaw(file, "{\"x\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", new byte[12]);
    assertEquals(file + ": tensor 'x': data_offsets [0, 16] run past the end of the data (12 bytes);"
        + " the file is truncated or corrupt", fail(file));
  }

  @Test
  void overlappingTensors() {
    Path file = tmp.resolve("overlap.safetensors");
    RawSafetensors.writeRaw(file, "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
        + "\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,24]}}", new byte[24]);
    assertEquals(file + ": tensors 'a' [0, 16) and 'b' [8, 24) overlap", fail(file));
  }

  @Test
  void shapeAndDtypeDisagreeWithTheOffsets() {
    Path file = tmp.resolve("size.safetensors");
    RawSafetensors.writeRaw(file, "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,12]}}", new byte[12]);
    assertEquals(file + ": tensor 'w': F32 [2, 2] needs 16 bytes, but data_offsets [0, 12] hold 12", fail(file));
  }

  @Test
  void unknownDtype() {
    Path file = tmp.resolve("dtype.safetensors");
    RawSafetensors.writeRaw(file, "{\"w\":{\"dtype\":\"F12\",\"shape\":[1],\"data_offsets\":[0,2]}}", new byte[2]);
    assertTrue(fail(file).startsWith(file + ": tensor 'w': unknown dtype 'F12' (known: F64, F32, F16, BF16,"), fail(file));
  }

  @Test
  void headerNotJson() {
    Path file = tmp.resolve("json.safetensors");
    RawSafetensors.writeRaw(file, "{\"w\": [", new byte[0]);
    assertTrue(fail(file).startsWith(file + ": header is not valid JSON"), fail(file));
  }

  @Test
  void missingShapeAndBadOffsets() {
    Path file = tmp.resolve("fields.safetensors");
    RawSafetensors.writeRaw(file, "{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", new byte[4]);
    assertEquals(file + ": tensor 'w': missing or non-array \"shape\"", fail(file));
    RawSafetensors.writeRaw(file, "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", new byte[4]);
    assertEquals(file + ": tensor 'w': data_offsets [4, 0] end before they begin", fail(file));
  }

  @Test
  void missingFileAndMissingTensor() {
    Path file = tmp.resolve("absent.safetensors");
    assertEquals(file + ": no such file", fail(file));
    Path ok = tmp.resolve("ok.safetensors");
    new SafetensorsWriter().add("a", new float[] {1}, 1).write(ok);
    try (SafetensorsFile f = SafetensorsFile.open(ok)) {
      var e = assertThrows(InvalidTensorFileException.class, () -> f.tensor("b"));
      assertEquals(ok + ": no tensor named 'b'", e.getMessage());
    }
  }

  private static String fail(Path file) {
    return assertThrows(InvalidTensorFileException.class, () -> SafetensorsFile.open(file).close()).getMessage();
  }
}

package dev.moe.runtime.model;

import dev.moe.runtime.tensor.DType;
import dev.moe.runtime.tensor.FloatFormats;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The token embedding, read row by row from the checkpoint's mapping (a large vocabulary's table
 * stays on disk and in the page cache, not on the heap).
 */
public final class Embedding {

  private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final ValueLayout.OfShort BF16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

  private final Weight table;
  private final int vocab;
  private final int hidden;

  public Embedding(Weight table) {
    this.table = table;
    this.vocab = Math.toIntExact(table.rows());
    this.hidden = Math.toIntExact(table.cols());
  }

  public Weight table() {
    return table;
  }

  /** Rows of {@code tokens} into {@code out} ({@code [tokens.length, hidden]}). */
  public void lookup(int[] tokens, float[] out) {
    MemorySegment data = table.data();
    for (int t = 0; t < tokens.length; t++) {
      int id = tokens[t];
      if (id < 0 || id >= vocab) {
        throw new IllegalArgumentException("token id " + id + " is not in this model's vocabulary of " + vocab);
      }
      long row = (long) id * hidden;
      int at = t * hidden;
      if (table.dtype() == DType.F32) {
        MemorySegment.copy(data, F32, row * 4, out, at, hidden);
      } else {
        for (int i = 0; i < hidden; i++) {
          out[at + i] = FloatFormats.bf16ToFloat(data.getAtIndex(BF16, row + i));
        }
      }
    }
  }
}

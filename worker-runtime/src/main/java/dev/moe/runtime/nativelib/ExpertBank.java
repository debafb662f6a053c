package dev.moe.runtime.nativelib;

import dev.moe.runtime.model.ExpertWeights;
import dev.moe.runtime.tensor.DType;
import java.lang.foreign.MemorySegment;

/**
 * A fixed number of expert slots of one shape, held by a backend (device memory on CUDA), and the
 * grouped SwiGLU FFN over them. Weights are stored in F32, or in BF16 (rounded to nearest even on
 * load) with float32 accumulation.
 *
 * <p>Arrays are checked here before they reach native code: a heap array passed by address must be
 * long enough, or the kernel would read or write past it.
 */
public final class ExpertBank implements AutoCloseable {

  private final Backend backend;
  private final MoeNative lib;
  private MemorySegment handle;
  private final int slots;
  private final int hidden;
  private final int inter;
  private final DType dtype;
  private final long slotBytes;

  private ExpertBank(Backend backend, MemorySegment handle, int slots, int hidden, int inter, DType dtype) {
    this.backend = backend;
    this.lib = backend.lib();
    this.handle = handle;
    this.slots = slots;
    this.hidden = hidden;
    this.inter = inter;
    this.dtype = dtype;
    this.slotBytes = lib.expertsSlotBytes(handle);
  }

  /** A bank of {@code slots} zero-filled slots of experts {@code hidden -> inter -> hidden} stored in {@code dtype}. */
  public static ExpertBank create(Backend backend, int slots, int hidden, int inter, DType dtype) {
    if (slots <= 0 || hidden <= 0 || inter <= 0) {
      throw new IllegalArgumentException(
          "expert bank needs positive slots, hidden and inter, got " + slots + ", " + hidden + ", " + inter);
    }
    MemorySegment h = backend.lib().expertsCreate(backend.handle(), slots, hidden, inter, nativeDtype(dtype));
    return new ExpertBank(backend, h, slots, hidden, inter, dtype);
  }

  /** The C {@code moe_dtype} of a storage dtype: only F32 and BF16 exist there. */
  static int nativeDtype(DType dtype) {
    return switch (dtype) {
      case F32 -> 0;
      case BF16 -> 1;
      default -> throw new IllegalArgumentException("the native kernels take F32 or BF16 weights, not " + dtype);
    };
  }

  public Backend backend() {
    return backend;
  }

  public int slots() {
    return slots;
  }

  public int hidden() {
    return hidden;
  }

  public int inter() {
    return inter;
  }

  public DType dtype() {
    return dtype;
  }

  /** Bytes of one slot in the canonical export layout (gate, up, down in the bank's dtype). */
  public long slotBytes() {
    return slotBytes;
  }

  /** Copies {@code w} into {@code slot}, converting to the bank's dtype. */
  public void load(int slot, ExpertWeights w) {
    checkSlot(slot);
    if (w.hidden() != hidden || w.inter() != inter) {
      throw new IllegalArgumentException("expert of hidden " + w.hidden() + " and inter " + w.inter()
          + " does not fit a bank of hidden " + hidden + " and inter " + inter);
    }
    lib.expertsLoad(handle(), slot, w.gate(), w.up(), w.down(), nativeDtype(w.dtype()));
  }

  /** The slot's weights in the canonical layout, e.g. to send to another worker. */
  public byte[] export(int slot) {
    checkSlot(slot);
    byte[] out = new byte[exportLength()];
    lib.expertsExport(handle(), slot, MemorySegment.ofArray(out));
    return out;
  }

  /** Replaces the slot's weights with {@code bytes} from {@link #export} of a bank of the same shape and dtype. */
  public void importSlot(int slot, byte[] bytes) {
    checkSlot(slot);
    if (bytes.length != slotBytes) {
      throw new IllegalArgumentException("slot import of " + bytes.length + " bytes into a bank whose slots hold "
          + slotBytes + " bytes (hidden " + hidden + ", inter " + inter + ", " + dtype + ")");
    }
    lib.expertsImport(handle(), slot, MemorySegment.ofArray(bytes));
  }

  /**
   * Copies slot {@code fromSlot} of {@code from} (a bank of the same backend, shape and dtype) into
   * {@code slot}, inside the backend's memory.
   */
  public void copySlot(int slot, ExpertBank from, int fromSlot) {
    checkSlot(slot);
    from.checkSlot(fromSlot);
    if (from.backend != backend || from.hidden != hidden || from.inter != inter || from.dtype != dtype) {
      throw new IllegalArgumentException("slot copy from a bank of another backend, shape or dtype");
    }
    lib.expertsCopy(handle(), slot, from.handle(), fromSlot);
  }

  /** FNV-1a 64 of the slot's canonical bytes, computed from what the backend holds. */
  public long checksum(int slot) {
    checkSlot(slot);
    return lib.expertsChecksum(handle(), slot);
  }

  /** FNV-1a 64 of {@code bytes}, the same function as {@link #checksum(int)}. */
  public static long checksum(byte[] bytes) {
    return MoeNative.get().checksum(MemorySegment.ofArray(bytes), bytes.length);
  }

  /**
   * Grouped SwiGLU FFN: rows {@code [offsets[g], offsets[g+1])} of {@code x} ({@code [rows, hidden]})
   * go through slot {@code slotIds[g]}; the results overwrite {@code y} ({@code [rows, hidden]}).
   */
  public void ffn(float[] x, int rows, int[] slotIds, long[] offsets, int groups, float[] y) {
    if (rows < 0 || groups < 0) {
      throw new IllegalArgumentException("negative rows or groups: " + rows + ", " + groups);
    }
    long need = (long) rows * hidden;
    if (x.length < need || y.length < need) {
      throw new IllegalArgumentException("ffn of " + rows + " rows of " + hidden + " needs " + need
          + " floats in x and y, got " + x.length + " and " + y.length);
    }
    if (slotIds.length < groups || offsets.length < groups + 1) {
      throw new IllegalArgumentException("ffn of " + groups + " groups needs " + groups + " slot ids and "
          + (groups + 1) + " offsets, got " + slotIds.length + " and " + offsets.length);
    }
    if (offsets[0] != 0 || offsets[groups] != rows) {
      throw new IllegalArgumentException("group offsets must run from 0 to " + rows + ", got " + offsets[0] + " .. "
          + offsets[groups]);
    }
    for (int g = 0; g < groups; g++) {
      if (offsets[g + 1] < offsets[g]) {
        throw new IllegalArgumentException("group offsets decrease at group " + g);
      }
      checkSlot(slotIds[g]);
    }
    lib.expertsFfn(backend.handle(), handle(), MemorySegment.ofArray(x), rows, MemorySegment.ofArray(slotIds),
        MemorySegment.ofArray(offsets), groups, MemorySegment.ofArray(y));
  }

  /**
   * Seconds per {@link #ffn} call of {@code rows} rows spread evenly over slots 0..groups-1, inputs
   * and outputs already resident in the backend (only the grouped GEMMs are timed); the median
   * of {@code iters} calls after a warm-up.
   */
  public double benchFfn(int rows, int groups, int iters) {
    if (rows <= 0 || groups <= 0 || groups > slots || iters <= 0) {
      throw new IllegalArgumentException("benchmark needs rows > 0, 1.." + slots + " groups and iters > 0, got "
          + rows + ", " + groups + ", " + iters);
    }
    return lib.benchExpertsFfn(backend.handle(), handle(), rows, groups, iters);
  }

  MemorySegment handle() {
    if (handle == null) {
      throw new IllegalStateException("expert bank is closed");
    }
    return handle;
  }

  private int exportLength() {
    if (slotBytes > Integer.MAX_VALUE - 8) {
      throw new IllegalStateException("a slot of " + slotBytes + " bytes does not fit one Java array");
    }
    return (int) slotBytes;
  }

  private void checkSlot(int slot) {
    if (slot < 0 || slot >= slots) {
      throw new IllegalArgumentException("slot " + slot + " is out of range: the bank has slots 0.." + (slots - 1));
    }
  }

  @Override
  public void close() {
    if (handle != null) {
      lib.expertsFree(handle);
      handle = null;
    }
  }
}

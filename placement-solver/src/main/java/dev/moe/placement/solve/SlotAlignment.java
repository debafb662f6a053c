package dev.moe.placement.solve;

/**
 * Orders each GPU's slots so an expert the GPU already held stays in the slot it was in: a new
 * placement then rewrites only the slots whose expert really changes.
 */
final class SlotAlignment {

  private SlotAlignment() {}

  static int[] align(int[] current, int[] proposed, int slotsPerGpu) {
    int[] out = new int[proposed.length];
    for (int base = 0; base < proposed.length; base += slotsPerGpu) {
      boolean[] placed = new boolean[slotsPerGpu];
      boolean[] filled = new boolean[slotsPerGpu];
      for (int t = 0; t < slotsPerGpu; t++) {
        for (int k = 0; k < slotsPerGpu; k++) {
          if (!placed[k] && proposed[base + k] == current[base + t]) {
            out[base + t] = proposed[base + k];
            placed[k] = true;
            filled[t] = true;
            break;
          }
        }
      }
      int t = 0;
      for (int k = 0; k < slotsPerGpu; k++) {
        if (!placed[k]) {
          while (filled[t]) {
            t++;
          }
          out[base + t] = proposed[base + k];
          filled[t] = true;
        }
      }
    }
    return out;
  }
}

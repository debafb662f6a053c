package dev.moe.stats;

/** An ordered pair of layer indices, written {@code "from->to"} in statistics files. */
public record LayerPair(int from, int to) {

  public LayerPair {
    if (from < 0 || to < 0 || from == to) {
      throw new IllegalArgumentException("layer pair " + from + "->" + to + " must name two different layers >= 0");
    }
  }

  /** Parses {@code "0->7"}. */
  public static LayerPair parse(String key) {
    String[] parts = key.split("->", -1);
    if (parts.length != 2) {
      throw new IllegalArgumentException("layer pair '" + key + "' is not of the form FROM->TO");
    }
    try {
      return new LayerPair(Integer.parseInt(parts[0].trim()), Integer.parseInt(parts[1].trim()));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("layer pair '" + key + "' is not of the form FROM->TO");
    }
  }

  @Override
  public String toString() {
    return from + "->" + to;
  }
}

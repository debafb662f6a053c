package dev.moe.runtime.model;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * Rotary position embedding as config.json describes it, and the inverse frequencies and cos/sin
 * factor transformers derives from it ({@code modeling_rope_utils}: default, linear, yarn,
 * llama3). The arithmetic follows transformers' float32 tensor ops, so angles agree to the ulp.
 *
 * @param rotaryDim leading dimensions of each head that are rotated (even)
 * @param interleaved pairs (2i, 2i+1) instead of (i, i + rotaryDim/2) (DeepSeek's rope_interleave)
 */
public record RopeParameters(String type, double theta, int rotaryDim, boolean interleaved, float[] invFreq,
    float attentionFactor) {

  /** rope types whose frequencies depend on the batch's longest sequence, and why they are refused. */
  private static final String DYNAMIC_REFUSAL = " is not supported: its frequencies change with the longest sequence"
      + " in a batch, so a request's output would depend on what it is batched with; supported rope types:"
      + " default, linear, yarn, llama3";

  /**
   * Reads RoPE from transformers 4.x keys ({@code rope_theta}, {@code rope_scaling} with {@code
   * type} or {@code rope_type}) or 5.x's {@code rope_parameters}.
   *
   * @param headDim the width RoPE applies to before {@code partial_rotary_factor}
   * @param maxPositions {@code max_position_embeddings}, YaRN's fallback original length
   */
  static RopeParameters parse(ConfigFields f, int headDim, int maxPositions, boolean interleaved) {
    JsonNode params = f.root().get("rope_parameters");
    JsonNode scaling;
    double theta;
    String where;
    if (params != null && !params.isNull()) {
      if (!params.isObject()) {
        throw f.bad("rope_parameters", params, "an object");
      }
      // 5.x: one object holds the type, theta and the scaling keys.
      scaling = params;
      where = "rope_parameters";
      theta = number(f, params, where, "rope_theta", f.number("rope_theta", 10000.0));
    } else {
      scaling = f.root().get("rope_scaling");
      where = "rope_scaling";
      theta = f.number("rope_theta", 10000.0);
      if (scaling != null && !scaling.isNull() && !scaling.isObject()) {
        throw f.bad("rope_scaling", scaling, "an object or null");
      }
    }
    if (!(theta > 0)) {
      throw f.bad("rope_theta", f.root().get("rope_theta"), "a positive number");
    }
    double partial = f.number("partial_rotary_factor", 1.0);
    int dim = (int) (headDim * partial);
    if (dim <= 0 || dim % 2 != 0 || dim > headDim) {
      throw new InvalidCheckpointException(f.source() + ": partial_rotary_factor " + partial + " of head_dim " + headDim
          + " gives " + dim + " rotated dimensions; it must be even and in 2.." + headDim);
    }
    String type = "default";
    if (scaling != null && !scaling.isNull()) {
      JsonNode t = scaling.has("rope_type") ? scaling.get("rope_type") : scaling.get("type");
      if (t != null && !t.isNull()) {
        type = t.asText();
      }
    }
    float[] invFreq = defaultInvFreq(theta, dim);
    float attentionFactor = 1f;
    switch (type) {
      case "default" -> {}
      case "linear" -> {
        float factor = (float) required(f, scaling, where, "factor");
        for (int i = 0; i < invFreq.length; i++) {
          invFreq[i] /= factor;
        }
      }
      case "yarn" -> {
        Yarn y = yarn(f, scaling, where, theta, dim, maxPositions);
        invFreq = y.invFreq;
        attentionFactor = y.attentionFactor;
      }
      case "llama3" -> invFreq = llama3(f, scaling, where, invFreq);
      case "dynamic", "longrope" -> throw new InvalidCheckpointException(f.source() + ": " + where + " type '" + type
          + "'" + DYNAMIC_REFUSAL);
      default -> throw new InvalidCheckpointException(f.source() + ": " + where + " type '" + type
          + "' is not supported; supported rope types: default, linear, yarn, llama3");
    }
    return new RopeParameters(type, theta, dim, interleaved, invFreq, attentionFactor);
  }

  /** {@code 1 / theta^(2i / dim)} in float32, as {@code _compute_default_rope_parameters}. */
  private static float[] defaultInvFreq(double theta, int dim) {
    float[] inv = new float[dim / 2];
    for (int i = 0; i < inv.length; i++) {
      float exponent = (float) (2 * i) / (float) dim;
      inv[i] = 1f / (float) Math.pow((float) theta, exponent);
    }
    return inv;
  }

  private record Yarn(float[] invFreq, float attentionFactor) {}

  /** transformers' {@code _compute_yarn_parameters}; also YaRN's softmax mscale via {@link #yarnMscale}. */
  private static Yarn yarn(ConfigFields f, JsonNode s, String where, double theta, int dim, int maxPositions) {
    double factor = required(f, s, where, "factor");
    Double attentionFactor = optional(f, s, where, "attention_factor");
    Double mscale = optional(f, s, where, "mscale");
    Double mscaleAllDim = optional(f, s, where, "mscale_all_dim");
    Double original = optional(f, s, where, "original_max_position_embeddings");
    double originalMax = original != null && original != 0 ? original : maxPositions;
    double af;
    if (attentionFactor != null) {
      af = attentionFactor;
    } else if (mscale != null && mscale != 0 && mscaleAllDim != null && mscaleAllDim != 0) {
      af = (float) (yarnMscale(factor, mscale) / yarnMscale(factor, mscaleAllDim));
    } else {
      af = yarnMscale(factor, 1);
    }
    Double betaFast = optional(f, s, where, "beta_fast");
    Double betaSlow = optional(f, s, where, "beta_slow");
    double fast = betaFast == null || betaFast == 0 ? 32 : betaFast;
    double slow = betaSlow == null || betaSlow == 0 ? 1 : betaSlow;
    boolean truncate = !s.has("truncate") || s.get("truncate").asBoolean(true);
    double low = correctionDim(fast, dim, theta, originalMax);
    double high = correctionDim(slow, dim, theta, originalMax);
    if (truncate) {
      low = Math.floor(low);
      high = Math.ceil(high);
    }
    low = Math.max(low, 0);
    high = Math.min(high, dim - 1);
    if (low == high) {
      high += 0.001;  // as transformers: no singular ramp
    }
    float[] inv = new float[dim / 2];
    for (int i = 0; i < inv.length; i++) {
      float posFreq = (float) Math.pow((float) theta, (float) (2 * i) / (float) dim);
      float extrapolation = 1f / posFreq;
      float interpolation = 1f / ((float) factor * posFreq);
      float ramp = (float) ((i - (float) low) / (float) (high - low));
      ramp = Math.min(1f, Math.max(0f, ramp));
      float extrapolationFactor = 1f - ramp;
      inv[i] = interpolation * (1 - extrapolationFactor) + extrapolation * extrapolationFactor;
    }
    return new Yarn(inv, (float) af);
  }

  private static double correctionDim(double rotations, int dim, double theta, double maxPositions) {
    return (dim * Math.log(maxPositions / (rotations * 2 * Math.PI))) / (2 * Math.log(theta));
  }

  /** YaRN's magnitude scale {@code 0.1 * m * ln(scale) + 1} (1 when scale <= 1). */
  public static double yarnMscale(double scale, double m) {
    return scale <= 1 ? 1.0 : 0.1 * m * Math.log(scale) + 1.0;
  }

  /** transformers' {@code _compute_llama3_parameters}. */
  private static float[] llama3(ConfigFields f, JsonNode s, String where, float[] inv) {
    float factor = (float) required(f, s, where, "factor");
    float low = (float) required(f, s, where, "low_freq_factor");
    float high = (float) required(f, s, where, "high_freq_factor");
    float oldContext = (float) required(f, s, where, "original_max_position_embeddings");
    float lowWavelen = oldContext / low;
    float highWavelen = oldContext / high;
    float[] out = new float[inv.length];
    for (int i = 0; i < inv.length; i++) {
      float wavelen = (float) (2 * Math.PI) / inv[i];
      float scaled = wavelen > lowWavelen ? inv[i] / factor : inv[i];
      boolean medium = !(wavelen < highWavelen) && !(wavelen > lowWavelen);
      if (medium) {
        float smooth = (oldContext / wavelen - low) / (high - low);
        scaled = (1 - smooth) * scaled / factor + smooth * scaled;
      }
      out[i] = scaled;
    }
    return out;
  }

  private static double required(ConfigFields f, JsonNode s, String where, String key) {
    Double v = optional(f, s, where, key);
    if (v == null) {
      throw new InvalidCheckpointException(f.source() + ": " + where + " needs \"" + key + "\" for rope type '"
          + (s.has("rope_type") ? s.get("rope_type").asText() : s.path("type").asText()) + "'");
    }
    return v;
  }

  private static Double optional(ConfigFields f, JsonNode s, String where, String key) {
    JsonNode n = s.get(key);
    if (n == null || n.isNull()) {
      return null;
    }
    if (!n.isNumber()) {
      throw new InvalidCheckpointException(f.source() + ": " + where + "." + key + " is " + n + ", expected a number");
    }
    return n.asDouble();
  }

  private static double number(ConfigFields f, JsonNode s, String where, String key, double dflt) {
    Double v = optional(f, s, where, key);
    return v == null ? dflt : v;
  }

  @Override
  public float[] invFreq() {
    return invFreq.clone();
  }
}

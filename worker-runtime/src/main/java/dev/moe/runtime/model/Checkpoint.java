package dev.moe.runtime.model;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.moe.runtime.tensor.DType;
import dev.moe.runtime.tensor.SafetensorsFile;
import dev.moe.runtime.tensor.TensorView;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * A transformers checkpoint directory: {@code config.json} and either one {@code model.safetensors}
 * or shards listed by {@code model.safetensors.index.json}. Files are memory-mapped when first
 * needed, so reading a few experts touches only their bytes. F32 and BF16 weights are handed out
 * as slices of the mapping; F16 and block-fp8 ({@code F8_E4M3} with {@code weight_scale_inv}) are
 * converted to float32 arrays. Every problem is an {@link InvalidCheckpointException} naming the
 * file and the tensor.
 */
public final class Checkpoint implements AutoCloseable {

  public static final String CONFIG = "config.json";
  public static final String SINGLE = "model.safetensors";
  public static final String INDEX = "model.safetensors.index.json";

  private static final JsonMapper MAPPER = JsonMapper.builder().build();

  private final Path dir;
  private final MoeConfig config;
  private final TensorNames names;
  /** Tensor name -> shard file name; null for a single-file checkpoint. */
  private final Map<String, String> weightMap;
  private final Map<String, SafetensorsFile> open = new HashMap<>();
  private ModelConfig modelConfig;

  private Checkpoint(Path dir, MoeConfig config, Map<String, String> weightMap) {
    this.dir = dir;
    this.config = config;
    this.names = TensorNames.of(config.architecture());
    this.weightMap = weightMap;
  }

  /** Opens the checkpoint in {@code dir}: reads config.json and the shard index, maps nothing yet. */
  public static Checkpoint open(Path dir) {
    if (!Files.isDirectory(dir)) {
      throw new InvalidCheckpointException("checkpoint " + dir + " is not a directory");
    }
    Path configFile = dir.resolve(CONFIG);
    if (!Files.isRegularFile(configFile)) {
      throw new InvalidCheckpointException("checkpoint " + dir + " has no " + CONFIG
          + " (the directory must be what transformers' save_pretrained writes)");
    }
    MoeConfig config = MoeConfig.read(configFile);
    if (Files.isRegularFile(dir.resolve(SINGLE))) {
      return new Checkpoint(dir, config, null);
    }
    Path index = dir.resolve(INDEX);
    if (!Files.isRegularFile(index)) {
      throw new InvalidCheckpointException("checkpoint " + dir + " has neither " + SINGLE + " nor " + INDEX);
    }
    return new Checkpoint(dir, config, readIndex(index));
  }

  private static Map<String, String> readIndex(Path index) {
    JsonNode root;
    try {
      root = MAPPER.readTree(Files.readAllBytes(index));
    } catch (JsonProcessingException e) {
      throw new InvalidCheckpointException(index + ": not valid JSON: "
          + e.getOriginalMessage().replaceAll("\\s*\\R\\s*", " "));
    } catch (IOException e) {
      throw new InvalidCheckpointException(index + ": cannot read: " + e.getMessage(), e);
    }
    JsonNode map = root == null ? null : root.get("weight_map");
    if (map == null || !map.isObject()) {
      throw new InvalidCheckpointException(index + ": no \"weight_map\" object");
    }
    Map<String, String> weightMap = new HashMap<>();
    for (Map.Entry<String, JsonNode> e : map.properties()) {
      String file = e.getValue().asText("");
      if (!e.getValue().isTextual() || file.isEmpty() || file.contains("/") || file.contains("\\") || file.equals("..")) {
        throw new InvalidCheckpointException(index + ": weight_map entry '" + e.getKey() + "' -> " + e.getValue()
            + " is not a file name in the checkpoint directory");
      }
      weightMap.put(e.getKey(), file);
    }
    return weightMap;
  }

  public Path directory() {
    return dir;
  }

  public MoeConfig config() {
    return config;
  }

  public TensorNames names() {
    return names;
  }

  /** Whether the checkpoint is sharded (has an index) rather than one file. */
  public boolean sharded() {
    return weightMap != null;
  }

  /** Whether the checkpoint has tensor {@code name} (by the index, or the single file's header). */
  public synchronized boolean contains(String name) {
    return weightMap != null ? weightMap.containsKey(name) : file(SINGLE).contains(name);
  }

  /** The tensor {@code name} as stored; missing is an error naming the tensor and the file it should be in. */
  public synchronized TensorView tensor(String name) {
    String fileName = SINGLE;
    if (weightMap != null) {
      fileName = weightMap.get(name);
      if (fileName == null) {
        throw new InvalidCheckpointException("tensor '" + name + "' is missing: " + dir.resolve(INDEX)
            + " does not list it in its weight_map");
      }
    }
    SafetensorsFile f = file(fileName);
    if (!f.contains(name)) {
      throw new InvalidCheckpointException("tensor '" + name + "' is missing from " + f.path()
          + (weightMap != null ? " (where " + INDEX + " says it is)" : ""));
    }
    return f.tensor(name);
  }

  private SafetensorsFile file(String fileName) {
    return open.computeIfAbsent(fileName, f -> SafetensorsFile.open(dir.resolve(f)));
  }

  /** Layer {@code layer}'s router in float32 (with DeepSeek-V3's score-correction bias). */
  public RouterWeights router(int layer) {
    checkLayer(layer);
    int experts = config.numExperts();
    int hidden = config.hiddenSize();
    float[] weight = floats(names.router(layer), experts, hidden);
    String biasName = names.routerBias(layer);
    float[] bias = biasName == null ? null : floats(biasName, experts);
    return new RouterWeights(experts, hidden, weight, bias);
  }

  /** Routed expert {@code expert} of layer {@code layer}; reads only its three matrices. */
  public ExpertWeights expert(int layer, int expert) {
    checkLayer(layer);
    if (expert < 0 || expert >= config.numExperts()) {
      throw new IllegalArgumentException("expert " + expert + " is out of range: layer " + layer + " has experts 0.."
          + (config.numExperts() - 1));
    }
    return ffn(names.expertGate(layer, expert), names.expertUp(layer, expert), names.expertDown(layer, expert),
        config.expertIntermediateSize());
  }

  /** The layer's shared expert (DeepSeek's n_shared_experts fused into one FFN), or null when the architecture has none. */
  public ExpertWeights sharedExpert(int layer) {
    checkLayer(layer);
    if (!config.hasSharedExpert()) {
      return null;
    }
    return ffn(names.sharedGate(layer), names.sharedUp(layer), names.sharedDown(layer),
        config.sharedIntermediateSize());
  }

  /** Qwen2-MoE's shared-expert gate vector {@code [hidden]}, or null when the architecture has none. */
  public float[] sharedGate(int layer) {
    checkLayer(layer);
    if (!config.hasSharedGate()) {
      return null;
    }
    return floats(names.sharedExpertGate(layer), 1, config.hiddenSize());
  }

  /** The whole decoder's configuration (config.json and generation_config.json), read on first use. */
  public synchronized ModelConfig modelConfig() {
    if (modelConfig == null) {
      modelConfig = ModelConfig.read(dir);
    }
    return modelConfig;
  }

  /**
   * A matrix {@code [rows, cols]} as the kernels take it: F32 and BF16 as slices of the mapping,
   * F16 and block-fp8 converted to float32.
   */
  public Weight matrix(String name, long rows, long cols) {
    TensorView t = shaped(name, rows, cols);
    if (t.dtype() == DType.F32 || t.dtype() == DType.BF16) {
      return new Weight(name, t.dtype(), rows, cols, t.data());
    }
    return new Weight(name, DType.F32, rows, cols, MemorySegment.ofArray(toFloats(t)));
  }

  /** A float vector of {@code n} values (a norm's weight, a bias) in float32. */
  public float[] vector(String name, long n) {
    return floats(name, n);
  }

  /** Layer {@code layer}'s dense SwiGLU MLP (a layer without an MoE block), {@code intermediate} wide. */
  public ExpertWeights denseMlp(int layer, int intermediate) {
    if (layer < 0 || layer >= config.numLayers() || config.isMoeLayer(layer)) {
      throw new IllegalArgumentException("layer " + layer + " has no dense MLP: MoE layers are "
          + config.describeMoeLayers() + " of 0.." + (config.numLayers() - 1));
    }
    return ffn(names.denseMlp(layer, "gate_proj"), names.denseMlp(layer, "up_proj"), names.denseMlp(layer, "down_proj"),
        intermediate);
  }

  private void checkLayer(int layer) {
    String problem = config.moeLayerProblem(layer);
    if (problem != null) {
      throw new IllegalArgumentException(problem);
    }
  }

  private ExpertWeights ffn(String gateName, String upName, String downName, int inter) {
    int hidden = config.hiddenSize();
    TensorView gate = shaped(gateName, inter, hidden);
    TensorView up = shaped(upName, inter, hidden);
    TensorView down = shaped(downName, hidden, inter);
    DType dtype = gate.dtype();
    if ((dtype == DType.F32 || dtype == DType.BF16) && up.dtype() == dtype && down.dtype() == dtype) {
      return new ExpertWeights(dtype, hidden, inter, gate.data(), up.data(), down.data());
    }
    return new ExpertWeights(DType.F32, hidden, inter, MemorySegment.ofArray(toFloats(gate)),
        MemorySegment.ofArray(toFloats(up)), MemorySegment.ofArray(toFloats(down)));
  }

  /** A float tensor of the given shape, as float32 values. */
  private float[] floats(String name, long... shape) {
    return toFloats(shaped(name, shape));
  }

  private TensorView shaped(String name, long... shape) {
    TensorView t = tensor(name);
    if (!Arrays.equals(t.shape(), shape)) {
      throw new InvalidCheckpointException("tensor '" + name + "' in " + where(name) + " has shape "
          + TensorView.shapeString(t.shape()) + ", expected " + TensorView.shapeString(shape)
          + " from " + CONFIG);
    }
    switch (t.dtype()) {
      case F32, BF16, F16, F8_E4M3 -> {}
      default -> throw new InvalidCheckpointException("tensor '" + name + "' in " + where(name) + " has dtype "
          + t.dtype().safetensorsName() + "; weights must be F32, BF16, F16 or block-fp8 F8_E4M3");
    }
    return t;
  }

  private float[] toFloats(TensorView t) {
    if (t.dtype() != DType.F8_E4M3) {
      return t.toFloats();
    }
    return dequantizeFp8(t);
  }

  /**
   * Block-fp8 to float32: element (i, j) times {@code weight_scale_inv[i / bRows][j / bCols]}, with
   * partial blocks at the right and bottom edges, as DeepSeek-V3's checkpoints are made.
   */
  private float[] dequantizeFp8(TensorView t) {
    String name = t.name();
    int[] block = config.fp8BlockSize();
    if (block == null) {
      throw new InvalidCheckpointException("tensor '" + name + "' in " + where(name) + " is F8_E4M3, but "
          + CONFIG + " has no fp8 quantization_config saying how it is scaled");
    }
    if (t.rank() != 2) {
      throw new InvalidCheckpointException("tensor '" + name + "' in " + where(name)
          + " is F8_E4M3 but not a matrix; block-fp8 scales apply to matrices");
    }
    int rows = (int) t.dim(0);
    int cols = (int) t.dim(1);
    int blockRows = (rows + block[0] - 1) / block[0];
    int blockCols = (cols + block[1] - 1) / block[1];
    String scaleName = TensorNames.scaleInv(name);
    if (!contains(scaleName)) {
      throw new InvalidCheckpointException("tensor '" + scaleName + "' is missing from " + where(name) + ": the F8_E4M3"
          + " weight '" + name + "' needs its block scales");
    }
    TensorView scaleView = tensor(scaleName);
    if (!Arrays.equals(scaleView.shape(), new long[] {blockRows, blockCols})) {
      throw new InvalidCheckpointException("tensor '" + scaleName + "' in " + where(scaleName) + " has shape "
          + TensorView.shapeString(scaleView.shape()) + ", expected [" + blockRows + ", " + blockCols + "] for a ["
          + rows + ", " + cols + "] weight in " + block[0] + "x" + block[1] + " blocks");
    }
    float[] scale = scaleView.toFloats();
    float[] w = t.toFloats();
    for (int i = 0; i < rows; i++) {
      int rowBase = (i / block[0]) * blockCols;
      for (int j = 0; j < cols; j++) {
        w[i * cols + j] *= scale[rowBase + j / block[1]];
      }
    }
    return w;
  }

  private String where(String name) {
    String file = weightMap == null ? SINGLE : weightMap.getOrDefault(name, INDEX);
    return dir.resolve(file).toString();
  }

  /** Unmaps every file: weights handed out as mapped slices become unusable. */
  @Override
  public synchronized void close() {
    for (SafetensorsFile f : open.values()) {
      f.close();
    }
    open.clear();
  }
}

package dev.moe.runtime.layer;

import dev.moe.runtime.model.Checkpoint;
import dev.moe.runtime.model.MoeConfig;
import dev.moe.runtime.nativelib.Backend;
import dev.moe.runtime.nativelib.ExpertBank;
import dev.moe.runtime.nativelib.Kernels;
import dev.moe.runtime.tensor.DType;
import java.util.Arrays;

/**
 * One MoE layer in a single process: the router, all routed experts of the layer in one
 * {@link ExpertBank} (slot = expert id), the combine, and the shared expert. It is the reference
 * the N-worker path must equal: route, sort the (token, choice) rows by expert into groups, run
 * the grouped FFN, combine with the routing weights, add the shared expert.
 */
public final class MoeBlock implements AutoCloseable {

  /** The result of one forward: the block's output {@code [tokens, hidden]} and the routing that made it. */
  public record Result(float[] output, Routing routing) {}

  private final MoeConfig config;
  private final int layer;
  private final DType dtype;
  private final int maxTokens;
  private final Router router;
  private final ExpertBank bank;
  private final SharedExperts shared;

  private MoeBlock(MoeConfig config, int layer, DType dtype, int maxTokens, Router router, ExpertBank bank,
      SharedExperts shared) {
    this.config = config;
    this.layer = layer;
    this.dtype = dtype;
    this.maxTokens = maxTokens;
    this.router = router;
    this.bank = bank;
    this.shared = shared;
  }

  /**
   * Loads layer {@code layer} of {@code checkpoint} onto {@code backend}, weights stored in
   * {@code dtype} (F32, or BF16 rounded to nearest even, accumulation float32 either way); batches
   * of up to {@code maxTokens} tokens.
   */
  public static MoeBlock load(Backend backend, Checkpoint checkpoint, int layer, DType dtype, int maxTokens) {
    MoeConfig config = checkpoint.config();
    checkLayer(config, layer);
    if (dtype != DType.F32 && dtype != DType.BF16) {
      throw new InvalidRequestException("weight storage must be fp32 or bf16, not " + dtype);
    }
    if (maxTokens <= 0) {
      throw new InvalidRequestException("the maximum batch must be at least 1 token, got " + maxTokens);
    }
    Router router = new Router(backend, config, checkpoint.router(layer), dtype);
    ExpertBank bank = null;
    SharedExperts shared = null;
    try {
      bank = ExpertBank.create(backend, config.numExperts(), config.hiddenSize(), config.expertIntermediateSize(),
          dtype);
      for (int e = 0; e < config.numExperts(); e++) {
        bank.load(e, checkpoint.expert(layer, e));
      }
      shared = SharedExperts.load(backend, checkpoint, layer, dtype);
    } catch (RuntimeException e) {
      router.close();
      if (bank != null) {
        bank.close();
      }
      throw e;
    }
    return new MoeBlock(config, layer, dtype, maxTokens, router, bank, shared);
  }

  /** Refuses a layer without an MoE block: out of range, or dense. */
  public static void checkLayer(MoeConfig config, int layer) {
    String problem = config.moeLayerProblem(layer);
    if (problem != null) {
      throw new InvalidRequestException(problem);
    }
  }

  /**
   * Refuses an input of shape {@code shape} that is not {@code [tokens, hidden]} with this
   * config's hidden size and 1..{@code maxTokens} tokens.
   */
  public static void checkInput(MoeConfig config, long[] shape, int maxTokens) {
    if (shape.length != 2) {
      throw new InvalidRequestException("input must be a matrix [tokens, hidden], got shape "
          + Arrays.toString(shape));
    }
    if (shape[1] != config.hiddenSize()) {
      throw new InvalidRequestException("input has hidden size " + shape[1] + ", but this "
          + config.architecture().modelType() + " checkpoint's hidden_size is " + config.hiddenSize());
    }
    checkTokens(shape[0], maxTokens);
  }

  /** Refuses an empty batch or one over {@code maxTokens}. */
  public static void checkTokens(long tokens, int maxTokens) {
    if (tokens <= 0) {
      throw new InvalidRequestException("input has " + tokens + " tokens; at least 1 is needed");
    }
    if (tokens > maxTokens) {
      throw new InvalidRequestException("input has " + tokens + " tokens, more than the maximum batch of "
          + maxTokens);
    }
  }

  /** The block on {@code tokens} rows of {@code x} ({@code [tokens, hidden]}). */
  public Result forward(float[] x, int tokens) {
    int hidden = config.hiddenSize();
    checkTokens(tokens, maxTokens);
    if (x.length != (long) tokens * hidden) {
      throw new InvalidRequestException("input holds " + x.length + " values, not " + tokens + " tokens x hidden "
          + hidden);
    }
    Routing routing = router.route(x, tokens);
    Dispatch dispatch = Dispatch.byExpert(routing, config.numExperts());
    float[] rows = dispatch.gather(x, hidden);
    float[] y = new float[rows.length];
    bank.ffn(rows, dispatch.rows(), dispatch.slotIds(), dispatch.offsets(), dispatch.groups(), y);
    float[] out = new float[tokens * hidden];
    Kernels.combine(y, dispatch.rowOf(), routing.weights(), tokens, routing.k(), hidden, out);
    if (shared != null) {
      shared.addTo(x, tokens, out);
    }
    return new Result(out, routing);
  }

  public MoeConfig config() {
    return config;
  }

  public int layer() {
    return layer;
  }

  public DType dtype() {
    return dtype;
  }

  public int maxTokens() {
    return maxTokens;
  }

  public Router router() {
    return router;
  }

  /** The routed experts, slot e holding expert e. */
  public ExpertBank bank() {
    return bank;
  }

  /** The shared expert, or null when the architecture has none. */
  public SharedExperts sharedExperts() {
    return shared;
  }

  @Override
  public void close() {
    router.close();
    bank.close();
    if (shared != null) {
      shared.close();
    }
  }
}

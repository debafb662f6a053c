package dev.moe.runtime.parallel;

import dev.moe.runtime.layer.Routing;
import dev.moe.runtime.model.ExpertWeights;
import dev.moe.runtime.nativelib.Backend;

/**
 * The model a worker group serves: shapes, expert weights to fill slots with, and per MoE layer
 * what runs besides the experts (router, shared experts). A checkpoint ({@link CheckpointModel})
 * or synthetic weights for trace replay.
 */
public interface ExpertModel {

  /** All layers, dense ones included: placements and statistics have a row for each. */
  int layers();

  boolean isMoeLayer(int layer);

  /** Why {@code layer} cannot be used as an MoE layer (out of range, dense), for error messages. */
  String moeLayerProblem(int layer);

  int hidden();

  int inter();

  int experts();

  int topK();

  /** The weights of one expert; each worker reads the ones its slots need. */
  ExpertWeights expert(int layer, int expert);

  /** The parts of one MoE layer that every worker runs on its own tokens, bound to its backend. */
  LayerOps layerOps(int layer, Backend backend);

  /** Router and shared experts of one MoE layer on one worker; called on the backend's thread. */
  interface LayerOps extends AutoCloseable {

    /** Top-k routing of {@code x} {@code [tokens, hidden]}. */
    Routing route(float[] x, int tokens);

    /**
     * Turns the combined routed-expert output {@code out} into the block's output, e.g. adds the
     * shared experts' output for {@code x}; as the single-process block does, in the same order.
     */
    void finish(float[] x, int tokens, float[] out);

    /** Frees what the layer holds on the backend. */
    @Override
    default void close() {}
  }
}

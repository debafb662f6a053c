package dev.moe.runtime.parallel;

import dev.moe.runtime.layer.Router;
import dev.moe.runtime.layer.Routing;
import dev.moe.runtime.layer.SharedExperts;
import dev.moe.runtime.model.Checkpoint;
import dev.moe.runtime.model.ExpertWeights;
import dev.moe.runtime.model.MoeConfig;
import dev.moe.runtime.nativelib.Backend;
import dev.moe.runtime.tensor.DType;

/**
 * A transformers checkpoint as a worker group serves it: the same router, experts and shared
 * experts as the single-process {@code MoeBlock}, weights stored in {@code storage}.
 */
public final class CheckpointModel implements ExpertModel {

  private final Checkpoint checkpoint;
  private final MoeConfig config;
  private final DType storage;

  /** The caller keeps {@code checkpoint} open while the model is used. */
  public CheckpointModel(Checkpoint checkpoint, DType storage) {
    this.checkpoint = checkpoint;
    this.config = checkpoint.config();
    this.storage = storage;
  }

  public MoeConfig config() {
    return config;
  }

  @Override
  public int layers() {
    return config.numLayers();
  }

  @Override
  public boolean isMoeLayer(int layer) {
    return config.isMoeLayer(layer);
  }

  @Override
  public String moeLayerProblem(int layer) {
    return config.moeLayerProblem(layer);
  }

  @Override
  public int hidden() {
    return config.hiddenSize();
  }

  @Override
  public int inter() {
    return config.expertIntermediateSize();
  }

  @Override
  public int experts() {
    return config.numExperts();
  }

  @Override
  public int topK() {
    return config.topK();
  }

  @Override
  public ExpertWeights expert(int layer, int expert) {
    return checkpoint.expert(layer, expert);
  }

  @Override
  public LayerOps layerOps(int layer, Backend backend) {
    Router router = new Router(backend, config, checkpoint.router(layer), storage);
    SharedExperts shared;
    try {
      shared = SharedExperts.load(backend, checkpoint, layer, storage);
    } catch (RuntimeException e) {
      router.close();
      throw e;
    }
    return new LayerOps() {
      @Override
      public Routing route(float[] x, int tokens) {
        return router.route(x, tokens);
      }

      @Override
      public void finish(float[] x, int tokens, float[] out) {
        if (shared != null) {
          shared.addTo(x, tokens, out);
        }
      }

      @Override
      public void close() {
        router.close();
        if (shared != null) {
          shared.close();
        }
      }
    };
  }
}

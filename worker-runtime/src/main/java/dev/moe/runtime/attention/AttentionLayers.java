package dev.moe.runtime.attention;

import dev.moe.runtime.model.Checkpoint;
import dev.moe.runtime.model.ModelConfig;
import dev.moe.runtime.model.ModelConfig.AttentionKind;
import dev.moe.runtime.model.TensorNames;
import dev.moe.runtime.model.Weight;
import dev.moe.runtime.nativelib.Attention;
import dev.moe.runtime.nativelib.AttentionConfig;
import dev.moe.runtime.nativelib.AttentionTensor;
import dev.moe.runtime.nativelib.Backend;
import dev.moe.runtime.tensor.DType;

/**
 * Builds a decoder layer's native attention from a checkpoint: its configuration from the model's
 * (GQA or DeepSeek's MLA, RoPE frequencies and factor, q/k norms, clipping, the layer's sliding
 * window) and its weights under transformers' tensor names.
 */
public final class AttentionLayers {

  private AttentionLayers() {}

  /** The native configuration of layer {@code layer}. */
  public static AttentionConfig config(ModelConfig model, int layer) {
    ModelConfig.Attention a = model.attention();
    boolean mla = a.kind() == AttentionKind.MLA;
    return new AttentionConfig(a.kind(), model.hiddenSize(),
        a.heads(), a.kvHeads(), mla ? 0 : a.headDim(), model.rope().rotaryDim(), model.rope().interleaved(), a.qkNorm(),
        model.slidingWindow(layer), a.qLoraRank(), a.kvLoraRank(), a.qkNopeHeadDim(), a.qkRopeHeadDim(), a.vHeadDim(),
        a.softmaxScale(), model.rope().attentionFactor(), a.clipQkv(), a.normEps());
  }

  /**
   * Layer {@code layer}'s attention on {@code backend}, matrices stored in {@code storage}; call on
   * the backend's thread. Every problem with the checkpoint is an InvalidCheckpointException naming
   * the tensor.
   */
  public static Attention load(Backend backend, Checkpoint checkpoint, int layer, DType storage) {
    ModelConfig model = checkpoint.modelConfig();
    ModelConfig.Attention a = model.attention();
    TensorNames names = checkpoint.names();
    Attention attention = Attention.create(backend, config(model, layer));
    try {
      Loader l = new Loader(attention, checkpoint, names, layer, storage);
      int hidden = model.hiddenSize();
      if (a.kind() == AttentionKind.GQA) {
        int q = a.heads() * a.headDim();
        int kv = a.kvHeads() * a.headDim();
        l.matrix(AttentionTensor.Q, "q_proj", q, hidden, a.qkvBias() ? AttentionTensor.Q_BIAS : null);
        l.matrix(AttentionTensor.K, "k_proj", kv, hidden, a.qkvBias() ? AttentionTensor.K_BIAS : null);
        l.matrix(AttentionTensor.V, "v_proj", kv, hidden, a.qkvBias() ? AttentionTensor.V_BIAS : null);
        switch (a.qkNorm()) {
          case HEAD -> {
            l.vector(AttentionTensor.Q_NORM, "q_norm", a.headDim());
            l.vector(AttentionTensor.K_NORM, "k_norm", a.headDim());
          }
          case ALL -> {
            l.vector(AttentionTensor.Q_NORM, "q_norm", q);
            l.vector(AttentionTensor.K_NORM, "k_norm", kv);
          }
          case NONE -> {}
        }
      } else {
        int qk = a.heads() * (a.qkNopeHeadDim() + a.qkRopeHeadDim());
        if (a.qLoraRank() == 0) {
          l.matrix(AttentionTensor.Q, "q_proj", qk, hidden, null);
        } else {
          l.matrix(AttentionTensor.Q_A, "q_a_proj", a.qLoraRank(), hidden, a.qkvBias() ? AttentionTensor.Q_A_BIAS : null);
          l.vector(AttentionTensor.Q_A_NORM, "q_a_layernorm", a.qLoraRank());
          l.matrix(AttentionTensor.Q_B, "q_b_proj", qk, a.qLoraRank(), null);
        }
        l.matrix(AttentionTensor.KV_A, "kv_a_proj_with_mqa", a.kvLoraRank() + a.qkRopeHeadDim(), hidden,
            a.qkvBias() ? AttentionTensor.KV_A_BIAS : null);
        l.vector(AttentionTensor.KV_A_NORM, "kv_a_layernorm", a.kvLoraRank());
        l.matrix(AttentionTensor.KV_B, "kv_b_proj", a.heads() * (a.qkNopeHeadDim() + a.vHeadDim()), a.kvLoraRank(), null);
      }
      l.matrix(AttentionTensor.O, "o_proj", hidden, a.outputWidth(), a.outputBias() ? AttentionTensor.O_BIAS : null);
      attention.set(AttentionTensor.INV_FREQ, model.rope().invFreq());
      return attention;
    } catch (RuntimeException e) {
      attention.close();
      throw e;
    }
  }

  /** Sets tensors of one layer's attention from the checkpoint. */
  private record Loader(Attention attention, Checkpoint checkpoint, TensorNames names, int layer, DType storage) {

    void matrix(AttentionTensor which, String module, int rows, int cols, AttentionTensor bias) {
      Weight w = checkpoint.matrix(names.attention(layer, module, "weight"), rows, cols);
      attention.set(which, w.data(), w.dtype(), storage, w.elements());
      if (bias != null) {
        attention.set(bias, checkpoint.vector(names.attention(layer, module, "bias"), rows));
      }
    }

    void vector(AttentionTensor which, String module, int n) {
      attention.set(which, checkpoint.vector(names.attention(layer, module, "weight"), n));
    }
  }
}

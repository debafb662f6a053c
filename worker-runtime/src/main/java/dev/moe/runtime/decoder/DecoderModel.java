package dev.moe.runtime.decoder;

import dev.moe.runtime.attention.AttentionLayers;
import dev.moe.runtime.model.Checkpoint;
import dev.moe.runtime.model.Embedding;
import dev.moe.runtime.model.ExpertWeights;
import dev.moe.runtime.model.ModelConfig;
import dev.moe.runtime.model.Weight;
import dev.moe.runtime.nativelib.Attention;
import dev.moe.runtime.nativelib.Backend;
import dev.moe.runtime.nativelib.DenseMatrix;
import dev.moe.runtime.nativelib.ExpertBank;
import dev.moe.runtime.nativelib.Kernels;
import dev.moe.runtime.nativelib.KvMemory;
import dev.moe.runtime.tensor.DType;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;

/**
 * Everything of a decoder-only MoE model but its routed experts, on one worker: token embedding,
 * every layer's norms and attention (with this worker's paged KV cache), the dense MLP of layers
 * without an MoE block, the final norm and the LM head. MoE blocks run through {@link MoeLayers}
 * (the worker group's expert parallelism), so a forward pass is a chain that may wait on peers.
 *
 * <p>Native objects belong to the backend's thread: build, run and close this on it.
 */
public final class DecoderModel implements AutoCloseable {

  /** The MoE block of a layer: routed experts (and shared experts) for {@code tokens} rows of {@code h}. */
  @FunctionalInterface
  public interface MoeLayers {
    CompletableFuture<float[]> apply(int layer, float[] h, int tokens);
  }

  /**
   * One step's rows: sequence after sequence, {@code seqRows[i]} tokens of sequence i starting at
   * position {@code seqStart[i]}, its cache blocks in row i of {@code blockTable} ({@code
   * maxBlocks} wide); the logits of rows {@code logitRows} are returned.
   */
  public record Batch(int[] tokens, int[] seqRows, int[] seqStart, int[] blockTable, int maxBlocks, int[] logitRows) {

    public int rows() {
      return tokens.length;
    }
  }

  private final ModelConfig config;
  private final Embedding embedding;
  private final float[][] inputNorm;
  private final float[][] postAttentionNorm;
  private final Attention[] attention;
  private final ExpertBank[] dense;
  private final float[] finalNorm;
  private final DenseMatrix lmHead;
  private final KvMemory kv;

  private DecoderModel(ModelConfig config, Embedding embedding, float[][] inputNorm, float[][] postAttentionNorm,
      Attention[] attention, ExpertBank[] dense, float[] finalNorm, DenseMatrix lmHead, KvMemory kv) {
    this.config = config;
    this.embedding = embedding;
    this.inputNorm = inputNorm;
    this.postAttentionNorm = postAttentionNorm;
    this.attention = attention;
    this.dense = dense;
    this.finalNorm = finalNorm;
    this.lmHead = lmHead;
    this.kv = kv;
  }

  /**
   * Loads everything but the routed experts from {@code checkpoint} onto {@code backend}, matrices
   * stored in {@code storage}, with a KV cache of {@code blocks} blocks of {@code blockSize}
   * positions. The checkpoint must stay open while the model is used (the embedding reads it).
   */
  public static DecoderModel load(Backend backend, Checkpoint checkpoint, DType storage, int blocks, int blockSize) {
    ModelConfig config = checkpoint.modelConfig();
    var names = checkpoint.names();
    int layers = config.numLayers();
    int hidden = config.hiddenSize();
    int vocab = config.vocabSize();
    Embedding embedding = new Embedding(checkpoint.matrix(names.embedding(), vocab, hidden));
    float[][] inputNorm = new float[layers][];
    float[][] postNorm = new float[layers][];
    Attention[] attention = new Attention[layers];
    ExpertBank[] dense = new ExpertBank[layers];
    DenseMatrix lmHead = null;
    KvMemory kv = null;
    try {
      for (int l = 0; l < layers; l++) {
        inputNorm[l] = checkpoint.vector(names.inputNorm(l), hidden);
        postNorm[l] = checkpoint.vector(names.postAttentionNorm(l), hidden);
        attention[l] = AttentionLayers.load(backend, checkpoint, l, storage);
        if (!config.moe().isMoeLayer(l)) {
          ExpertWeights w = checkpoint.denseMlp(l, config.intermediateSize());
          dense[l] = ExpertBank.create(backend, 1, hidden, config.intermediateSize(), storage);
          dense[l].load(0, w);
        }
      }
      float[] finalNorm = checkpoint.vector(names.finalNorm(), hidden);
      Weight head = config.tieWordEmbeddings() ? embedding.table() : checkpoint.matrix(names.lmHead(), vocab, hidden);
      lmHead = DenseMatrix.create(backend, vocab, hidden, head.data(), head.dtype(), storage, null);
      kv = KvMemory.create(backend, layers, blocks, blockSize, attention[0].cacheWidth());
      return new DecoderModel(config, embedding, inputNorm, postNorm, attention, dense, finalNorm, lmHead, kv);
    } catch (RuntimeException e) {
      closeAll(attention, dense, lmHead, kv);
      throw e;
    }
  }

  public ModelConfig config() {
    return config;
  }

  /**
   * Runs {@code batch} through the model and completes with the logits of its logit rows ({@code
   * [logitRows.length, vocab]}). Call on the backend's thread; work after an MoE layer that waits
   * on peers resumes on {@code compute}, which must be that thread.
   */
  public CompletableFuture<float[]> forward(Batch batch, MoeLayers moe, Executor compute) {
    int rows = batch.rows();
    float[] x = new float[Math.multiplyExact(rows, config.hiddenSize())];
    embedding.lookup(batch.tokens(), x);
    return layers(batch, x, 0, moe, compute);
  }

  /** Layers {@code from..} on the residual stream {@code x}, synchronously until an MoE layer must wait. */
  private CompletableFuture<float[]> layers(Batch batch, float[] x, int from, MoeLayers moe, Executor compute) {
    int rows = batch.rows();
    int hidden = config.hiddenSize();
    float eps = config.rmsNormEps();
    float[] h = new float[x.length];
    float[] out = new float[x.length];
    for (int l = from; l < config.numLayers(); l++) {
      Kernels.rmsNorm(x, rows, hidden, inputNorm[l], eps, h);
      attention[l].forward(kv, l, h, batch.seqRows(), batch.seqStart(), batch.blockTable(), batch.maxBlocks(), out);
      add(x, out);
      Kernels.rmsNorm(x, rows, hidden, postAttentionNorm[l], eps, h);
      if (dense[l] != null) {
        dense[l].ffn(h, rows, new int[] {0}, new long[] {0, rows}, 1, out);
        add(x, out);
        continue;
      }
      CompletableFuture<float[]> m = moe.apply(l, h, rows);
      if (m.isDone() && !m.isCompletedExceptionally()) {
        add(x, m.join());
        continue;
      }
      int next = l + 1;
      return m.thenComposeAsync(y -> {
        add(x, y);
        return layers(batch, x, next, moe, compute);
      }, compute);
    }
    return CompletableFuture.completedFuture(logits(batch, x));
  }

  private float[] logits(Batch batch, float[] x) {
    int hidden = config.hiddenSize();
    int n = batch.logitRows().length;
    float[] last = new float[n * hidden];
    for (int i = 0; i < n; i++) {
      System.arraycopy(x, batch.logitRows()[i] * hidden, last, i * hidden, hidden);
    }
    Kernels.rmsNorm(last, n, hidden, finalNorm, config.rmsNormEps(), last);
    float[] logits = new float[Math.multiplyExact(n, config.vocabSize())];
    lmHead.multiply(last, n, logits);
    return logits;
  }

  /** The residual add, element by element (transformers: hidden = residual + sublayer output). */
  private static void add(float[] x, float[] y) {
    for (int i = 0; i < x.length; i++) {
      x[i] += y[i];
    }
  }

  @Override
  public void close() {
    closeAll(attention, dense, lmHead, kv);
  }

  private static void closeAll(Attention[] attention, ExpertBank[] dense, DenseMatrix lmHead, KvMemory kv) {
    for (Attention a : attention) {
      if (a != null) {
        a.close();
      }
    }
    for (ExpertBank b : dense) {
      if (b != null) {
        b.close();
      }
    }
    if (lmHead != null) {
      lmHead.close();
    }
    if (kv != null) {
      kv.close();
    }
  }
}

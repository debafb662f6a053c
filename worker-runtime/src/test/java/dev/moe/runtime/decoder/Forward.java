package dev.moe.runtime.decoder;

import dev.moe.runtime.model.Checkpoint;
import dev.moe.runtime.parallel.WorkerNode;
import dev.moe.runtime.tensor.DType;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A {@link DecoderModel} on a worker node, for tests: whole prompts (or batches of sequences) run
 * through it with the node's expert parallelism, each sequence with its own blocks of a KV cache
 * that is reset between calls unless the caller continues a sequence.
 */
final class Forward implements AutoCloseable {

  static final int BLOCK = 4;
  static final int BLOCKS = 256;

  private final WorkerNode node;
  private final DecoderModel model;
  private final AtomicLong steps = new AtomicLong();

  private Forward(WorkerNode node, DecoderModel model) {
    this.node = node;
    this.model = model;
  }

  static Forward on(WorkerNode node, Checkpoint ckpt) {
    return new Forward(node, node.callOnCompute(() -> DecoderModel.load(node.backend(), ckpt, DType.F32, BLOCKS, BLOCK)));
  }

  DecoderModel model() {
    return model;
  }

  /** Logits of every position of {@code tokens}, run as one sequence from position 0 in blocks 0... */
  float[] all(int[] tokens) {
    int[] rows = new int[tokens.length];
    for (int i = 0; i < rows.length; i++) {
      rows[i] = i;
    }
    return run(new DecoderModel.Batch(tokens, new int[] {tokens.length}, new int[] {0}, blocks(0, tokens.length),
        blocksFor(tokens.length), rows));
  }

  /** Block ids {@code first, first + 1, ...} enough for {@code positions}. */
  static int[] blocks(int first, int positions) {
    int[] b = new int[blocksFor(positions)];
    for (int i = 0; i < b.length; i++) {
      b[i] = first + i;
    }
    return b;
  }

  static int blocksFor(int positions) {
    return (positions + BLOCK - 1) / BLOCK;
  }

  float[] run(DecoderModel.Batch batch) {
    long version = node.activeVersion();
    return node.runStep(steps.incrementAndGet(), version, moe -> model.forward(batch, moe, node.compute())).join();
  }

  @Override
  public void close() {
    node.callOnCompute(() -> {
      model.close();
      return null;
    });
  }
}

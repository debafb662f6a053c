package dev.moe.runtime.synthetic;

import dev.moe.runtime.decoder.DecoderModel;
import dev.moe.runtime.model.Checkpoint;
import dev.moe.runtime.nativelib.BackendChoice;
import dev.moe.runtime.parallel.CheckpointModel;
import dev.moe.runtime.parallel.LocalGroup;
import dev.moe.runtime.parallel.WorkerNode;
import dev.moe.runtime.parallel.WorkerOptions;
import dev.moe.runtime.rebalance.Placements;
import dev.moe.runtime.tensor.DType;
import dev.moe.stats.RoutingStats;
import java.nio.file.Path;

/**
 * Runs token sequences through a checkpoint the way a serving worker does (one worker: its
 * decoder, its routers, its experts and its routing statistics) and keeps what every MoE layer's
 * router saw.
 */
final class RoutingProbe implements AutoCloseable {

  private static final int BLOCK = 16;

  /**
   * What one run saw: per layer the router inputs ({@code [tokens, hidden]}, null for a dense
   * layer) and the routing counts the worker recorded.
   */
  record Run(float[][] routerInputs, RoutingStats counts) {}

  private final Checkpoint checkpoint;
  private final LocalGroup group;
  private final WorkerNode node;
  private final DecoderModel model;
  private final int cacheBlocks;
  private long steps;

  private RoutingProbe(Checkpoint checkpoint, LocalGroup group, DecoderModel model, int cacheBlocks) {
    this.checkpoint = checkpoint;
    this.group = group;
    this.node = group.nodes().getFirst();
    this.model = model;
    this.cacheBlocks = cacheBlocks;
  }

  /** A worker on the checkpoint in {@code dir}, with every core, for runs of up to {@code cacheBlocks} blocks. */
  static RoutingProbe open(Path dir, int cacheBlocks) {
    Checkpoint checkpoint = Checkpoint.open(dir);
    LocalGroup group = null;
    try {
      CheckpointModel experts = new CheckpointModel(checkpoint, DType.F32);
      WorkerOptions options = WorkerOptions.defaults()
          .withBackend(BackendChoice.CPU, Runtime.getRuntime().availableProcessors());
      group = LocalGroup.start(1, experts, Placements.roundRobin(experts.layers(), experts.experts(), 1), 0, options,
          false);
      WorkerNode node = group.nodes().getFirst();
      DecoderModel model = node.callOnCompute(() -> DecoderModel.load(node.backend(), checkpoint, DType.F32,
          cacheBlocks, BLOCK));
      return new RoutingProbe(checkpoint, group, model, cacheBlocks);
    } catch (RuntimeException e) {
      if (group != null) {
        group.close();
      }
      checkpoint.close();
      throw e;
    }
  }

  /** KV-cache blocks that {@code sequences} take. */
  static int blocks(int[][] sequences) {
    int blocks = 0;
    for (int[] s : sequences) {
      blocks += (s.length + BLOCK - 1) / BLOCK;
    }
    return blocks;
  }

  /** Runs {@code sequences} (each from position 0) as one step; the counts are this run's alone. */
  Run run(int[][] sequences) {
    int rows = 0;
    int maxBlocks = 0;
    for (int[] s : sequences) {
      rows += s.length;
      maxBlocks = Math.max(maxBlocks, (s.length + BLOCK - 1) / BLOCK);
    }
    int blocks = blocks(sequences);
    if (blocks > cacheBlocks) {
      throw new IllegalArgumentException(sequences.length + " sequences of " + rows + " tokens need " + blocks
          + " cache blocks, the probe has " + cacheBlocks);
    }
    int[] tokens = new int[rows];
    int[] seqRows = new int[sequences.length];
    int[] seqStart = new int[sequences.length];
    int[] table = new int[sequences.length * maxBlocks];
    int at = 0;
    int block = 0;
    for (int i = 0; i < sequences.length; i++) {
      System.arraycopy(sequences[i], 0, tokens, at, sequences[i].length);
      at += sequences[i].length;
      seqRows[i] = sequences[i].length;
      for (int b = 0; b < (sequences[i].length + BLOCK - 1) / BLOCK; b++) {
        table[i * maxBlocks + b] = block++;
      }
    }
    DecoderModel.Batch batch = new DecoderModel.Batch(tokens, seqRows, seqStart, table, maxBlocks,
        new int[] {rows - 1});
    float[][] inputs = new float[checkpoint.config().numLayers()][];
    node.routingStats(true, false);
    node.runStep(++steps, node.activeVersion(), moe -> model.forward(batch, (layer, h, n) -> {
      inputs[layer] = h.clone();
      return moe.apply(layer, h, n);
    }, node.compute())).join();
    return new Run(inputs, node.routingStats(true, false));
  }

  @Override
  public void close() {
    node.callOnCompute(() -> {
      model.close();
      return null;
    });
    group.close();
    checkpoint.close();
  }
}

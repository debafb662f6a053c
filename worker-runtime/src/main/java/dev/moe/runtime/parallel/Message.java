package dev.moe.runtime.parallel;

/**
 * What workers and their coordinator say to each other. Every request gets exactly one reply: the
 * reply type its handler produces, or an {@link ErrorReply}. Wire format: {@link MessageCodec}.
 */
public sealed interface Message {

  /**
   * Coordinator to worker: run this worker's share of a step's tokens through {@code layers} in
   * order (each layer's output is the next one's input) on placement {@code version}.
   *
   * @param firstKey the step-wide index of this worker's first token; keys identify a token across
   *     the layers of a step for the transition statistics
   * @param forced null, or routing to use instead of the router ({@code k} choices per token, per
   *     layer: ids and weights {@code [tokens * k]}), for trace replay
   */
  record Step(long step, long version, int[] layers, int tokens, int hidden, long firstKey, float[] x,
      ForcedRouting forced) implements Message {}

  /** Routing given by the caller: {@code ids[i]} and {@code weights[i]} belong to {@code layers[i]}. */
  record ForcedRouting(int k, int[][] ids, float[][] weights) {}

  /**
   * Reply to {@link Step}: the output rows; the routing of each of the step's layers ({@code ids}
   * and {@code weights} {@code [tokens * k]}, choices in the router's order); and per worker the
   * rows this worker dispatched to it and the time it spent computing them, wall and CPU (summed
   * over the step's layers; see {@link Rows}).
   */
  record StepResult(float[] y, int k, int[][] ids, float[][] weights, long[] rowsTo, long[] computeNanos,
      long[] cpuNanos) implements Message {}

  /**
   * Worker to worker: compute these rows on the receiver's expert slots. Rows {@code [offsets[g],
   * offsets[g + 1])} go through the receiver's local slot {@code slots[g]} of {@code layer} in
   * placement {@code version}.
   */
  record Dispatch(long step, int layer, long version, int hidden, int[] slots, int[] offsets, float[] x)
      implements Message {

    public int rows() {
      return offsets[offsets.length - 1];
    }
  }

  /**
   * Reply to {@link Dispatch}: the computed rows, and how long the expert kernel took: wall time,
   * and CPU time of the thread that called it (with the CPU backend on one thread, all of the
   * work, whatever else shares the machine's cores).
   */
  record Rows(float[] y, long computeNanos, long cpuNanos) implements Message {}

  /** Worker to worker: the weights of {@code expert} of {@code layer} as held in {@code version}. */
  record FetchSlot(long version, int layer, int expert) implements Message {}

  /** Reply to {@link FetchSlot}: the canonical slot bytes and the sender's checksum of its copy. */
  record SlotCopy(byte[] bytes, long checksum) implements Message {}

  /**
   * Coordinator to worker: stage placement {@code version} (a placement JSON document), moving at
   * most {@code budgetBytes} of weights per step. The reply comes when every slot is staged and
   * verified ({@link Ack}) or the version is refused ({@link ErrorReply}).
   */
  record Stage(long version, long budgetBytes, byte[] placementJson) implements Message {}

  /** Coordinator to worker: no step of {@code version} is in flight any more; free what only it uses. */
  record Release(long version) implements Message {}

  /** Coordinator to worker: report {@link WorkerStatus}. */
  record StatusRequest() implements Message {}

  /** Reply to {@link StatusRequest}. {@code staged}: versions ready to serve, the active one included. */
  record WorkerStatus(int rank, boolean ready, long activeVersion, long[] staged) implements Message {}

  /**
   * The step clock (kept by rank {@code clock}, the lowest connected rank) to every rank: run step
   * {@code step} of your own requests (possibly none) on placement {@code version}. Reply: {@link
   * StepEnd} when this rank's part is done; refused by a rank that sees a lower rank connected.
   */
  record StepBegin(long step, long version, int clock) implements Message {}

  /**
   * Reply to {@link StepBegin}: whether this rank still has requests to run ({@code busy}), the
   * placement versions it holds ready ({@code staged}, the active one included), and, when its
   * part of the step failed (its requests run again later), why; else an empty string.
   */
  record StepEnd(long step, boolean busy, long[] staged, String failure) implements Message {}

  /** A rank to the step clock's rank: requests arrived while the clock idled. Reply: {@link Ack}. */
  record Wake() implements Message {}

  /** A (re)starting worker to a peer: which placement does the group serve? Reply: {@link ActivePlacement}. */
  record PlacementQuery() implements Message {}

  /** Reply to {@link PlacementQuery}: the peer's active version and its placement document. */
  record ActivePlacement(long version, byte[] placementJson) implements Message {}

  record Ack() implements Message {}

  /** The reply to any request that failed: the request was not carried out. */
  record ErrorReply(ErrorCode code, String message) implements Message {}
}

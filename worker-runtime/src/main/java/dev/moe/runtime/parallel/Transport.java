package dev.moe.runtime.parallel;

import dev.moe.runtime.parallel.Message.Dispatch;
import dev.moe.runtime.parallel.Message.FetchSlot;
import dev.moe.runtime.parallel.Message.Rows;
import dev.moe.runtime.parallel.Message.SlotCopy;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;

/**
 * How a worker reaches the other workers of its group: token rows out to the owners of the chosen
 * expert replicas and computed rows back, and expert weights moved for a placement change. Replies
 * come asynchronously; a failure completes the future with a {@link RemoteException}.
 *
 * <p>Requests that reach this worker go to the {@link Handler} the implementation was built with.
 * {@link NettyTransport} carries everything over TCP; an NCCL or RDMA implementation would move
 * {@link Dispatch} rows and {@link SlotCopy} bytes between device buffers and keep the same
 * contract.
 */
public interface Transport extends AutoCloseable {

  /** Serves the requests that arrive at one worker. */
  @FunctionalInterface
  interface Handler {
    /** The reply to {@code request}; failing with a {@link RemoteException} sends its code back. */
    CompletableFuture<Message> handle(Message request);
  }

  int rank();

  int size();

  /** Connects to every peer, waiting up to {@code timeout} for those not listening yet. */
  void connect(Duration timeout);

  /**
   * Whether {@code peer} is connected: after {@link #connect}, a lost peer (one restarting, say) is
   * reconnected in the background, and this is false meanwhile (always false before {@link #connect}).
   */
  boolean connected(int peer);

  /** Sends rows to {@code peer} to be computed on its slots. */
  CompletableFuture<Rows> dispatch(int peer, Dispatch dispatch);

  /** Fetches the weights of one expert from {@code peer}, with the peer's checksum of its copy. */
  CompletableFuture<SlotCopy> fetchSlot(int peer, FetchSlot fetch);

  /**
   * A control message of the group to {@code peer} (the step clock's steps, wake-ups, placement
   * releases and status); completes with its reply, which must be a {@code reply}.
   */
  <T extends Message> CompletableFuture<T> control(int peer, Message message, Class<T> reply);

  @Override
  void close();
}

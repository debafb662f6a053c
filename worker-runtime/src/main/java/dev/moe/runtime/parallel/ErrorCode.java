package dev.moe.runtime.parallel;

/** Why a request failed; travels in {@link Message.ErrorReply} and {@link RemoteException}. */
public enum ErrorCode {
  /** The frame could not be decoded: truncated, inconsistent counts, unknown message type. */
  MALFORMED,
  /** Well-formed, but wrong for this worker: hidden size, shapes, slot or expert indices. */
  BAD_REQUEST,
  /** The layer does not exist or is not an MoE layer. */
  UNKNOWN_LAYER,
  /** The placement version is not staged on this worker (never was, or already released). */
  UNKNOWN_VERSION,
  /** More rows or bytes than this worker accepts in one request. */
  OVERSIZE,
  /** A placement version was refused: invalid, or a staged slot failed its checksum. */
  REFUSED,
  /** The worker is not ready yet or is shutting down. */
  UNAVAILABLE,
  /** A failure inside the worker (native error, bug). */
  INTERNAL;

  static ErrorCode fromOrdinal(int ordinal) {
    ErrorCode[] all = values();
    return ordinal >= 0 && ordinal < all.length ? all[ordinal] : INTERNAL;
  }
}

package dev.moe.runtime.nativelib;

import dev.moe.cli.CliRunner;

/**
 * A failure of the native library: a {@code moe_status} other than {@code MOE_OK} with the
 * library's message for it, or the library could not be loaded at all.
 */
public class NativeException extends RuntimeException implements CliRunner.ReportedFailure {

  /** {@link #status()} when the library itself could not be found or loaded. */
  public static final int LOAD_FAILED = -1;
  public static final int INVALID = 1;
  public static final int NOMEM = 2;
  public static final int BACKEND = 3;
  public static final int UNSUPPORTED = 4;

  private final int status;

  public NativeException(int status, String message) {
    super(message);
    this.status = status;
  }

  public NativeException(int status, String message, Throwable cause) {
    super(message, cause);
    this.status = status;
  }

  /** The {@code moe_status} code, or {@link #LOAD_FAILED}. */
  public int status() {
    return status;
  }

  static String statusName(int status) {
    return switch (status) {
      case INVALID -> "invalid argument";
      case NOMEM -> "out of memory";
      case BACKEND -> "backend failure";
      case UNSUPPORTED -> "unsupported";
      case LOAD_FAILED -> "library not loaded";
      default -> "status " + status;
    };
  }
}

package dev.moe.runtime.cli;

import dev.moe.runtime.nativelib.BackendChoice;
import dev.moe.runtime.tensor.DType;
import java.util.Locale;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Option;
import picocli.CommandLine.TypeConversionException;

/** {@code --backend}, {@code --threads} and {@code --dtype}: where and in what the kernels run. */
public final class BackendOptions {

  /** Weight storage of the expert banks and routers. */
  public enum StorageDtype {
    FP32(DType.F32),
    BF16(DType.BF16);

    private final DType dtype;

    StorageDtype(DType dtype) {
      this.dtype = dtype;
    }

    public DType dtype() {
      return dtype;
    }

    @Override
    public String toString() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  @Option(names = "--backend", defaultValue = "auto", paramLabel = "auto|cpu|cuda", converter = BackendConverter.class,
      description = "auto (CUDA when a device is visible, else CPU), cpu or cuda (default: ${DEFAULT-VALUE}).")
  BackendChoice backend;

  @Option(names = "--threads", defaultValue = "0", paramLabel = "N",
      description = "CPU threads; 0 = one per core (default: ${DEFAULT-VALUE}).")
  int threads;

  @Option(names = "--dtype", defaultValue = "fp32", paramLabel = "fp32|bf16",
      description = "Weight storage: fp32, or bf16 (rounded to nearest even; fp32 accumulation) (default: ${DEFAULT-VALUE}).")
  StorageDtype dtype;

  public BackendChoice backend() {
    return backend;
  }

  /** The CPU thread count, checked: 0 (one per core) or more. */
  public int threads() {
    if (threads < 0) {
      throw new IllegalArgumentException("--threads must be 0 (one per core) or more, got " + threads);
    }
    return threads;
  }

  public DType dtype() {
    return dtype.dtype();
  }

  /** Parses --backend with a message listing the choices. */
  static final class BackendConverter implements ITypeConverter<BackendChoice> {
    @Override
    public BackendChoice convert(String value) {
      try {
        return BackendChoice.parse(value);
      } catch (IllegalArgumentException e) {
        throw new TypeConversionException(e.getMessage());
      }
    }
  }
}

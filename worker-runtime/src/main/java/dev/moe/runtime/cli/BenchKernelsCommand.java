package dev.moe.runtime.cli;

import dev.moe.runtime.bench.KernelBenchmark;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** {@code bench-kernels}: the native kernels against this machine's FMA peak, bandwidth and OpenBLAS. */
@Command(
    name = "bench-kernels",
    mixinStandardHelpOptions = true,
    versionProvider = WorkerCli.Version.class,
    description = "Times the grouped SwiGLU FFN on DeepSeek-V3 and Mixtral expert shapes, 1 to 4096 tokens, against"
        + " the measured FMA peak, read bandwidth and OpenBLAS sgemm.")
public final class BenchKernelsCommand implements Callable<Integer> {

  @ParentCommand WorkerCli parent;

  @Spec CommandSpec spec;

  /** Auto picks CUDA where a device is visible; OpenBLAS and the machine figures are the CPU's. */
  @Mixin BackendOptions backend;

  @Option(names = "--quick", description = "A smoke test: shapes scaled down 8 times, 1, 8 and 64 tokens.")
  boolean quick;

  @Override
  public Integer call() {
    KernelBenchmark bench = new KernelBenchmark(
        new KernelBenchmark.Options(backend.backend(), backend.threads(), backend.dtype(), quick));
    PrintWriter err = spec.commandLine().getErr();
    KernelBenchmark.print(bench.run(line -> {
      err.println(line);
      err.flush();
    }), parent.out);
    return 0;
  }
}

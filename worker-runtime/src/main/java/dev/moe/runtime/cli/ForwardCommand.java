package dev.moe.runtime.cli;

import dev.moe.runtime.layer.MoeBlock;
import dev.moe.runtime.layer.Routing;
import dev.moe.runtime.model.Checkpoint;
import dev.moe.runtime.model.MoeConfig;
import dev.moe.runtime.nativelib.Backend;
import dev.moe.runtime.nativelib.BackendChoice;
import dev.moe.runtime.parallel.GroupForward;
import dev.moe.runtime.parallel.WorkerGroup;
import dev.moe.runtime.tensor.DType;
import dev.moe.runtime.tensor.InvalidTensorFileException;
import dev.moe.runtime.tensor.SafetensorsFile;
import dev.moe.runtime.tensor.SafetensorsWriter;
import dev.moe.runtime.tensor.TensorView;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

/**
 * {@code forward}: runs layer L's whole MoE block on the tensor {@code input} ({@code [tokens,
 * hidden]} f32) of a safetensors file and writes {@code output} (f32), {@code topk_ids} (I64
 * {@code [tokens, k]}) and {@code topk_weights} (f32) to another.
 */
@Command(
    name = "forward",
    mixinStandardHelpOptions = true,
    versionProvider = WorkerCli.Version.class,
    description = "Runs one MoE layer of a checkpoint on an input batch; writes its output and routing.")
public final class ForwardCommand implements Callable<Integer> {

  /** The parsed command line. */
  public record Args(Path checkpoint, int layer, Path input, Path out, int workers, Path placement,
      BackendChoice backend, DType dtype, int threads, int maxTokens) {}

  @ParentCommand WorkerCli parent;

  @Option(names = "--checkpoint", required = true, paramLabel = "DIR",
      description = "Checkpoint directory as transformers' save_pretrained writes it (config.json and safetensors).")
  Path checkpoint;

  @Option(names = "--layer", required = true, paramLabel = "L", description = "Decoder layer whose MoE block to run.")
  int layer;

  @Option(names = "--input", required = true, paramLabel = "IN.safetensors",
      description = "Safetensors file with the tensor 'input' [tokens, hidden], f32.")
  Path input;

  @Option(names = "--out", required = true, paramLabel = "OUT.safetensors",
      description = "Where to write 'output' [tokens, hidden] f32, 'topk_ids' [tokens, k] I64, 'topk_weights' f32.")
  Path out;

  @Option(names = "--workers", defaultValue = "1", paramLabel = "N",
      description = "Workers to spread the experts over (default: ${DEFAULT-VALUE}).")
  int workers;

  @Option(names = "--placement", paramLabel = "P.json",
      description = "Expert placement over the workers' slots (placement-solver's JSON).")
  Path placement;

  @Mixin BackendOptions backend;

  @Option(names = "--max-tokens", defaultValue = "65536", paramLabel = "N",
      description = "Largest batch accepted (default: ${DEFAULT-VALUE}).")
  int maxTokens;

  @Override
  public Integer call() {
    Args args = new Args(checkpoint, layer, input, out, workers, placement, backend.backend(), backend.dtype(),
        backend.threads(), maxTokens);
    if (args.workers() < 1) {
      throw new IllegalArgumentException("--workers must be at least 1, got " + args.workers());
    }
    if (args.maxTokens() < 1) {
      throw new IllegalArgumentException("--max-tokens must be at least 1, got " + args.maxTokens());
    }
    try (Checkpoint ckpt = Checkpoint.open(args.checkpoint())) {
      MoeConfig config = ckpt.config();
      MoeBlock.checkLayer(config, args.layer());
      float[] x;
      int tokens;
      try (SafetensorsFile in = SafetensorsFile.open(args.input())) {
        TensorView t = inputTensor(in);
        MoeBlock.checkInput(config, t.shape(), args.maxTokens());
        tokens = (int) t.dim(0);
        x = t.toFloats();
      }
      MoeBlock.Result result = args.workers() > 1 || args.placement() != null
          ? forwardWorkers(args, ckpt, x, tokens)
          : forwardLocal(args, ckpt, x, tokens);
      Routing routing = result.routing();
      long[] ids = new long[routing.ids().length];
      for (int i = 0; i < ids.length; i++) {
        ids[i] = routing.ids()[i];
      }
      new SafetensorsWriter()
          .add("output", result.output(), tokens, config.hiddenSize())
          .add("topk_ids", ids, tokens, routing.k())
          .add("topk_weights", routing.weights(), tokens, routing.k())
          .write(args.out());
      parent.out.println("layer " + args.layer() + " of " + config.architecture().modelType() + ": " + tokens
          + " tokens, top-" + routing.k() + " of " + config.numExperts() + " experts, " + backend.dtype + " -> "
          + args.out());
    }
    return 0;
  }

  private static TensorView inputTensor(SafetensorsFile in) {
    if (!in.contains("input")) {
      throw new InvalidTensorFileException(in.path() + ": no tensor named 'input' (forward reads the [tokens, hidden]"
          + " f32 tensor 'input'; the file has " + (in.names().isEmpty() ? "no tensors" : String.join(", ", in.names()))
          + ")");
    }
    TensorView t = in.tensor("input");
    if (t.dtype() != DType.F32) {
      throw new InvalidTensorFileException(in.path() + ": tensor 'input' is " + t.dtype().safetensorsName()
          + ", expected F32");
    }
    return t;
  }

  /** The single-process block: every expert of the layer in one bank. */
  static MoeBlock.Result forwardLocal(Args args, Checkpoint ckpt, float[] x, int tokens) {
    try (Backend b = Backend.open(args.backend(), args.threads());
        MoeBlock block = MoeBlock.load(b, ckpt, args.layer(), args.dtype(), args.maxTokens())) {
      return block.forward(x, tokens);
    }
  }

  /**
   * The multi-worker path ({@code --workers N > 1} or {@code --placement}): the experts spread
   * over N workers by the placement, each running its share, the results combined; it must equal
   * {@link #forwardLocal}.
   */
  static MoeBlock.Result forwardWorkers(Args args, Checkpoint ckpt, float[] x, int tokens) {
    WorkerGroup.StepOutput out = GroupForward.run(args.checkpoint(), ckpt.config(), args.layer(), x, tokens,
        args.workers(), args.placement(), args.backend(), args.dtype(), args.threads(), args.maxTokens());
    return new MoeBlock.Result(out.y(), new Routing(tokens, out.k(), out.ids()[0], out.weights()[0]));
  }
}

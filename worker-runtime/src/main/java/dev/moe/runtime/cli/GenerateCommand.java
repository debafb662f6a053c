package dev.moe.runtime.cli;

import dev.moe.runtime.model.Checkpoint;
import dev.moe.runtime.parallel.WorkerOptions;
import dev.moe.runtime.sampling.SamplingParams;
import dev.moe.runtime.scheduler.CollectingSink;
import dev.moe.runtime.scheduler.EngineGroup;
import dev.moe.runtime.scheduler.EngineRejectedException;
import dev.moe.runtime.scheduler.FinishReason;
import dev.moe.runtime.scheduler.GenerationRequest;
import dev.moe.runtime.tokenizer.ChatTemplate;
import dev.moe.runtime.tokenizer.TextTokenizer;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

/**
 * {@code generate}: one completion of a prompt by the serving engine, on a group of N workers in
 * this process (over TCP on loopback, as N {@code serve} processes would run); prints the
 * completion's text alone.
 */
@Command(
    name = "generate",
    mixinStandardHelpOptions = true,
    versionProvider = WorkerCli.Version.class,
    description = "Generates a completion of a prompt with the serving engine; prints its text alone.")
public final class GenerateCommand implements Callable<Integer> {

  @ParentCommand WorkerCli parent;

  @Option(names = "--checkpoint", required = true, paramLabel = "DIR",
      description = "Checkpoint directory as transformers' save_pretrained writes it, with its tokenizer.")
  Path checkpoint;

  @Option(names = "--prompt", required = true, paramLabel = "TEXT", description = "The prompt.")
  String prompt;

  @Option(names = "--chat", description = "Send the prompt as a user message through the model's chat template.")
  boolean chat;

  @Option(names = "--max-tokens", defaultValue = "64", paramLabel = "N",
      description = "Most tokens to generate (default: ${DEFAULT-VALUE}).")
  int maxTokens;

  @Option(names = "--workers", defaultValue = "1", paramLabel = "N",
      description = "Workers the experts are spread over (default: ${DEFAULT-VALUE}).")
  int workers;

  @Option(names = "--temperature", defaultValue = "0", paramLabel = "T",
      description = "0 picks the most likely token (greedy, the default); otherwise sampling at this temperature.")
  float temperature;

  @Option(names = "--top-p", defaultValue = "1", paramLabel = "P", description = "Nucleus sampling (default: 1, off).")
  float topP;

  @Option(names = "--top-k", defaultValue = "0", paramLabel = "K", description = "Top-k sampling (default: 0, off).")
  int topK;

  @Option(names = "--seed", paramLabel = "N", description = "Seed of the sampling (default: random).")
  Long seed;

  @Option(names = "--ignore-eos", description = "Go on past end-of-sequence tokens, to --max-tokens.")
  boolean ignoreEos;

  @Mixin BackendOptions backend;

  @Mixin ServingOptions serving;

  @Override
  public Integer call() throws Exception {
    if (workers < 1) {
      throw new IllegalArgumentException("--workers must be at least 1, got " + workers);
    }
    SamplingParams sampling = new SamplingParams(temperature, topP, topK, seed, maxTokens, null, ignoreEos, null, 0f, 0f);
    try (Checkpoint ckpt = Checkpoint.open(checkpoint); TextTokenizer tokenizer = TextTokenizer.load(checkpoint)) {
      int[] ids = promptIds(tokenizer);
      int threads = backend.threads() > 0 ? backend.threads()
          : Math.max(1, Runtime.getRuntime().availableProcessors() / workers);
      WorkerOptions options = WorkerOptions.defaults().withBackend(backend.backend(), threads)
          .withWeightDtype(backend.dtype());
      try (EngineGroup group = EngineGroup.start(workers, ckpt, null, options,
          serving.engine(checkpoint, backend.dtype()))) {
        CollectingSink out = new CollectingSink();
        try {
          group.engine(0).submit(new GenerationRequest("generate", ids, sampling), out);
        } catch (EngineRejectedException e) {
          throw new IllegalArgumentException(e.getMessage(), e);
        }
        FinishReason reason = out.finish().get();
        if (reason == FinishReason.ERROR || reason == FinishReason.UNAVAILABLE) {
          throw new IllegalStateException("generation failed: " + out.message());
        }
        parent.out.println(tokenizer.decode(out.tokens(), true));
      }
    }
    return 0;
  }

  private int[] promptIds(TextTokenizer tokenizer) {
    if (!chat) {
      return tokenizer.encode(prompt, true);
    }
    ChatTemplate template = tokenizer.chatTemplate();
    if (template == null) {
      throw new IllegalArgumentException(checkpoint + " has no chat template (tokenizer_config.json's chat_template"
          + " or chat_template.jinja); leave out --chat");
    }
    String text = template.render(List.of(Map.of("role", "user", "content", prompt)), true, Map.of());
    // The template writes the special tokens itself.
    return tokenizer.encode(text, false);
  }
}

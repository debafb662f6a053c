package dev.moe.localcluster.demo;

import dev.moe.runtime.bench.StreamedCompletion;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import java.util.function.DoublePredicate;
import java.util.function.IntFunction;

/**
 * The demo's traffic: closed-loop clients sending streamed completions to the model's endpoint,
 * each request the next prompt of the phase that runs when it starts (one kind of prompts, then
 * the other: the shift). What the workers route is the model's own routing of those prompts.
 */
public final class RequestTraffic {

  /** One phase: its prompts by request number, until {@code over}, given the seconds it has run. */
  public record Phase(String name, IntFunction<String> prompts, DoublePredicate over) {}

  /** One request: when it started and ended (seconds from the start), its phase and what it measured. */
  public record RequestRecord(double startSeconds, double endSeconds, String phase, StreamedCompletion.Result result) {}

  private static final Duration TICK = Duration.ofMillis(200);
  /** After a failed request a client waits this long: an unready endpoint is not hammered. */
  private static final Duration BACKOFF = Duration.ofSeconds(1);

  private final URI endpoint;
  private final StreamedCompletion completion;
  private final int clients;

  public RequestTraffic(URI endpoint, StreamedCompletion completion, int clients) {
    this.endpoint = endpoint;
    this.completion = completion;
    this.clients = clients;
  }

  /**
   * Runs the phases in order; returns once the last is over (or {@code stop}) and the requests in
   * flight have ended.
   */
  public void run(long startNanos, List<Phase> phases, Consumer<RequestRecord> sink, BooleanSupplier stop)
      throws InterruptedException {
    AtomicInteger phase = new AtomicInteger();
    AtomicInteger requests = new AtomicInteger();
    AtomicBoolean done = new AtomicBoolean();
    List<Thread> threads = new ArrayList<>();
    for (int c = 0; c < clients; c++) {
      threads.add(Thread.ofVirtual().name("demo client " + c).start(() -> {
        while (!done.get()) {
          Phase p = phases.get(phase.get());
          double start = seconds(startNanos);
          StreamedCompletion.Result r = completion.send(endpoint, p.prompts().apply(requests.getAndIncrement()));
          sink.accept(new RequestRecord(start, seconds(startNanos), p.name(), r));
          if (!r.ok()) {
            sleep(BACKOFF);
          }
        }
      }));
    }
    double phaseStart = seconds(startNanos);
    while (!done.get()) {
      Thread.sleep(TICK);
      int i = phase.get();
      if (stop.getAsBoolean()) {
        done.set(true);
      } else if (phases.get(i).over().test(seconds(startNanos) - phaseStart)) {
        if (i + 1 == phases.size()) {
          done.set(true);
        } else {
          phase.set(i + 1);
          phaseStart = seconds(startNanos);
        }
      }
    }
    for (Thread t : threads) {
      t.join();
    }
  }

  private static double seconds(long startNanos) {
    return (System.nanoTime() - startNanos) / 1e9;
  }

  private static void sleep(Duration d) {
    try {
      Thread.sleep(d);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}

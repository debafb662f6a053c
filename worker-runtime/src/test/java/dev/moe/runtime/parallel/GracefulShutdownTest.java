package dev.moe.runtime.parallel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moe.runtime.Fixtures;
import dev.moe.runtime.model.Checkpoint;
import dev.moe.runtime.rebalance.Placements;
import dev.moe.runtime.tensor.DType;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/**
 * All workers of a group stop at once (as on SIGTERM) under load: steps already running finish
 * with the right output, new ones are refused as UNAVAILABLE, nothing fails half-way.
 */
class GracefulShutdownTest {

  @Test
  void stepsInFlightFinishWhileTheGroupStops() throws Exception {
    try (Checkpoint ckpt = Checkpoint.open(Fixtures.dir("olmoe"))) {
      String arch = "olmoe";
      GroupForwardTest.Reference ref = GroupForwardTest.reference(arch, ckpt, DType.F32);
      int layer = Fixtures.layer(arch);
      LocalGroup local = LocalGroup.start(3, new CheckpointModel(ckpt, DType.F32), Placements.roundRobin(2, 8, 3),
          WorkerOptions.defaults());
      List<String> outcomes = Collections.synchronizedList(new ArrayList<>());
      AtomicBoolean running = new AtomicBoolean(true);
      List<Thread> clients = new ArrayList<>();
      for (int c = 0; c < 3; c++) {
        Thread t = new Thread(() -> {
          while (running.get()) {
            try {
              float[] y = local.group().step(ref.x(), ref.tokens(), new int[] {layer}).join().y();
              boolean right = Fixtures.maxAbsDiff(ref.result().output(), y)
                  <= GroupForwardTest.REL * Fixtures.maxAbs(ref.result().output());
              outcomes.add(right ? "ok" : "wrong output");
            } catch (CompletionException e) {
              outcomes.add(e.getCause() instanceof RemoteException r ? r.code().name() : e.getCause().toString());
            }
          }
        });
        t.start();
        clients.add(t);
      }
      Thread.sleep(300);
      List<Thread> stops = new ArrayList<>();
      for (WorkerNode node : local.nodes()) {
        Thread t = new Thread(() -> node.shutdown(Duration.ofSeconds(10)));
        t.start();
        stops.add(t);
      }
      for (Thread t : stops) {
        t.join();
      }
      running.set(false);
      for (Thread t : clients) {
        t.join();
      }
      local.group().close();
      List<String> all = new ArrayList<>(outcomes);
      assertTrue(all.contains("ok"));
      List<String> bad = all.stream().filter(o -> !o.equals("ok") && !o.equals("UNAVAILABLE")).toList();
      assertEquals(List.of(), bad, "steps that failed other than by being refused");
      assertTrue(all.contains("UNAVAILABLE"), "steps sent after the stop are refused");
    }
  }
}

package dev.moe.runtime.scheduler;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moe.placement.Placement;
import dev.moe.runtime.EngineTesting;
import dev.moe.runtime.Fixtures;
import dev.moe.runtime.ModelExpectations;
import dev.moe.runtime.model.Checkpoint;
import dev.moe.runtime.parallel.WorkerNode;
import dev.moe.runtime.parallel.WorkerOptions;
import dev.moe.runtime.rebalance.Placements;
import dev.moe.runtime.sampling.SamplingParams;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A placement posted to every worker while they serve is staged by each and adopted by the whole
 * group at one step boundary; no request fails and every output stays what transformers makes.
 */
class InGroupSwitchTest {

  @Test
  void theGroupAdoptsAStagedPlacementAtAStepBoundaryWhileServing() throws Exception {
    String fixture = "deepseek_v3";
    ModelExpectations want = ModelExpectations.of(fixture);
    int workers = 3;
    try (Checkpoint ckpt = Checkpoint.open(Fixtures.dir(fixture));
        EngineGroup group = EngineGroup.start(workers, ckpt, null, WorkerOptions.defaults(),
            EngineTesting.options())) {
      List<CollectingSink> outputs = new ArrayList<>();
      for (int i = 0; i < 6; i++) {
        CollectingSink c = new CollectingSink();
        int[] prompt = i % 2 == 0 ? want.prompt() : want.prompt2();
        group.engine(i % workers).submit(new GenerationRequest("r" + i, prompt, SamplingParams.greedy(32)), c);
        outputs.add(c);
      }
      // Long requests keep the group stepping through the switch.
      CollectingSink filler = new CollectingSink();
      group.engine(2).submit(new GenerationRequest("filler", want.prompt(),
          new SamplingParams(0f, 1f, 0, null, 180, null, true, null, 0f, 0f)), filler);
      // Once generation is under way, every worker stages version 1, one expert's weights per step.
      while (outputs.get(0).count() < 2) {
        Thread.sleep(5);
      }
      var model = ckpt.modelConfig();
      Placement first = Placements.roundRobin(model.numLayers(), model.moe().numExperts(), workers);
      Placement next = Placements.swapped(first, workers, first.slotsPerGpu());
      long slotBytes = 3L * model.hiddenSize() * model.moe().expertIntermediateSize() * 4;
      List<CompletableFuture<Long>> staged = new ArrayList<>();
      for (int r = 0; r < workers; r++) {
        staged.add(group.node(r).stage(1, slotBytes, next));
      }
      for (CompletableFuture<Long> s : staged) {
        assertEquals(1L, s.get(60, TimeUnit.SECONDS));
      }
      while (group.node(0).activeVersion() != 1) {
        Thread.sleep(2);
      }
      assertTrue(!filler.finish().isDone(), "the group switched while serving");
      for (int i = 0; i < outputs.size(); i++) {
        int[] expected = i % 2 == 0 ? want.generated() : want.generated2();
        assertArrayEquals(expected, EngineTesting.await(outputs.get(i)), "request " + i);
      }
      // The clock adopts the version everywhere, even once the traffic has stopped, and frees the old one.
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      for (int r = 0; r < workers; r++) {
        WorkerNode node = group.node(r);
        while (!(node.activeVersion() == 1 && node.stagedVersions().length == 1) && System.nanoTime() < deadline) {
          Thread.sleep(10);
        }
        assertEquals(1, node.activeVersion(), "worker " + r + " serves version 1");
        assertArrayEquals(new long[] {1}, node.stagedVersions(), "worker " + r + " freed version 0");
        assertTrue(node.placementStatusJson().contains("\"active\": 1"), node.placementStatusJson());
      }
      assertEquals(180, EngineTesting.await(filler).length);
      // Serving goes on on the new placement with the same outputs.
      CollectingSink after = new CollectingSink();
      group.engine(1).submit(new GenerationRequest("after", want.prompt(), SamplingParams.greedy(32)), after);
      assertArrayEquals(want.generated(), EngineTesting.await(after));
    }
  }
}

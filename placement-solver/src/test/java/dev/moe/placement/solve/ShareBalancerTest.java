package dev.moe.placement.solve;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class ShareBalancerTest {

  @Test
  void splitsAnExpertOverItsReplicasToLevelTheGpus() {
    // GPU 0: experts 0 and 1; GPU 1: expert 0 twice. Best: expert 0 puts 1 on GPU 0 and 2 on GPU 1.
    ShareBalancer balancer = new ShareBalancer(new double[] {3, 1}, 2, 2);
    ShareBalancer.Result r = balancer.balance(new int[] {0, 1, 0, 0});
    assertEquals(2.0, r.maxLoad(), 1e-9);
    assertArrayEquals(new double[] {2, 2}, r.gpuLoad(), 1e-9);
    assertEquals(1.0, r.slotShare()[0] + r.slotShare()[2] + r.slotShare()[3], 1e-12);
    assertEquals(1.0, r.slotShare()[1], 1e-12);
  }

  @Test
  void reportsTheSaturatedSetAsTheBottleneck() {
    // Experts 0 and 1 only live on GPU 0: it must carry 11 whatever the shares.
    ShareBalancer balancer = new ShareBalancer(new double[] {10, 1, 1}, 2, 2);
    ShareBalancer.Result r = balancer.balance(new int[] {0, 1, 2, 2});
    assertEquals(11.0, r.maxLoad(), 1e-9);
    assertTrue(r.bottleneck()[0] && r.bottleneck()[1]);
    assertEquals(false, r.bottleneck()[2]);
    assertEquals(1, r.tightGpus());
  }

  @Test
  void perfectBalanceMakesEveryGpuTight() {
    ShareBalancer balancer = new ShareBalancer(new double[] {4, 4}, 2, 2);
    ShareBalancer.Result r = balancer.balance(new int[] {0, 1, 0, 1});
    assertEquals(4.0, r.maxLoad(), 1e-9);
    assertEquals(2, r.tightGpus());
  }

  @Test
  void expertsWithoutTrafficKeepEqualShares() {
    ShareBalancer balancer = new ShareBalancer(new double[] {0, 5}, 2, 2);
    ShareBalancer.Result r = balancer.balance(new int[] {0, 1, 0, 1});
    assertEquals(0.5, r.slotShare()[0], 1e-12);
    assertEquals(0.5, r.slotShare()[2], 1e-12);
    assertEquals(2.5, r.maxLoad(), 1e-9);
  }

  @Test
  void refusesAPlacementThatLosesAnExpert() {
    ShareBalancer balancer = new ShareBalancer(new double[] {1, 1, 1}, 2, 1);
    assertThrows(IllegalArgumentException.class, () -> balancer.balance(new int[] {0, 1}));
  }
}

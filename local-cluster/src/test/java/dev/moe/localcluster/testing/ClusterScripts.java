package dev.moe.localcluster.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** local-cluster's scripts (up.sh, down.sh) as an IT runs them: on ports of its own, in a state dir of its own. */
public final class ClusterScripts {

  private ClusterScripts() {}

  /** Runs {@code command} with {@code ports} (up.sh's MOE_LOCAL_CLUSTER_* variables) and state dir {@code state}. */
  public static void run(Map<String, String> ports, Path state, String... command)
      throws IOException, InterruptedException {
    ProcessBuilder pb = new ProcessBuilder(command).inheritIO();
    pb.environment().putAll(ports);
    pb.environment().put("MOE_LOCAL_CLUSTER_STATE", state.toString());
    Process p = pb.start();
    assertTrue(p.waitFor(5, TimeUnit.MINUTES), command[0] + " did not finish within 5 minutes");
    assertEquals(0, p.exitValue(), command[0] + " failed (output above)");
  }
}

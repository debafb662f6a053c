package dev.moe.localcluster.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The README's run command, end to end with a short replay: a real control plane, the process
 * node, the chart, the operator, eight workers, DeepSeek-V3's routing with a decode -> prefill
 * shift, and Prometheus. The operator must rebalance after the shift, balancedness must recover,
 * every dashboard panel must have data, and nothing may be left running afterwards.
 */
class RunCommandIT {

  private static final Path REPO = Path.of(System.getProperty("moe.repo.root", "..")).toAbsolutePath().normalize();
  private static final Path STATISTICS = REPO.resolve("data/routing/deepseek-v3-sglang");
  /** Ports of their own, so that a cluster a developer left running does not get in the way. */
  private static final Map<String, String> PORTS = Map.of("MOE_LOCAL_CLUSTER_PORT", "16443",
      "MOE_LOCAL_CLUSTER_ETCD_PORT", "12379", "MOE_LOCAL_CLUSTER_CONTROLLER_MANAGER_PORT", "20257",
      "MOE_LOCAL_CLUSTER_SCHEDULER_PORT", "20259", "MOE_LOCAL_CLUSTER_KWOK_PORT", "20247",
      "MOE_LOCAL_CLUSTER_PROMETHEUS_PORT", "19090");

  @Test
  void shiftIsAnsweredByARebalanceAndBalancednessRecovers(@TempDir Path tmp) throws Exception {
    Path state = tmp.resolve("state");
    Path report = tmp.resolve("report");
    Path log = tmp.resolve("run.log");
    ProcessBuilder run = new ProcessBuilder(List.of(REPO.resolve("local-cluster/run.sh").toString(), "--",
        "--exit", "--decode", "60s", "--after-rebalance", "25s", "--out", report.toString(), "--statistics",
        STATISTICS.toString()))
        .directory(REPO.toFile()).redirectErrorStream(true).redirectOutput(log.toFile());
    run.environment().putAll(PORTS);
    run.environment().put("MOE_SKIP_BUILD", "1");
    run.environment().put("MOE_LOCAL_CLUSTER_STATE", state.toString());
    Process p = run.start();
    boolean ended = p.waitFor(20, TimeUnit.MINUTES);
    if (!ended) {
      p.destroy();
      p.waitFor(1, TimeUnit.MINUTES);
    }
    String output = Files.readString(log);
    System.out.println(output);
    assertTrue(ended, "run.sh did not finish within 20 minutes");
    assertEquals(0, p.exitValue(), "run.sh failed; its output is above");

    JsonNode summary = JsonMapper.builder().build().readTree(report.resolve("summary.json").toFile());
    assertTrue(summary.path("rebalanced").asBoolean(), "no rebalanced placement served after the shift");
    assertTrue(summary.path("replicasMoved").asLong() > 0, "the rebalance moved no replica");
    JsonNode stretches = summary.path("stretches");
    double decode = stretches.get(0).path("observedBalancedness").asDouble();
    double shifted = stretches.get(1).path("observedBalancedness").asDouble();
    double recovered = stretches.get(2).path("observedBalancedness").asDouble();
    // A 20 s window holds about 2000 tokens here: the observed balancedness sits a few points under the prediction
    // and moves between windows (seen: 0.947-0.98 on the decode placement).
    assertTrue(decode > 0.93, "placed on decode, decode traffic should be balanced: " + decode);
    assertTrue(shifted < 0.9, "prefill on the decode placement should fall below the trigger: " + shifted);
    // Not always back to decode's 0.98-0.99: the rebalance may be fitted on a window that straddles the
    // shift, part decode (seen: 0.954-0.959 when decided 14-15 s into prefill on a 20 s window, 0.98-0.99
    // after 24-26 s). Successive windows on one placement differ by about 0.003.
    assertTrue(recovered > 0.93 && recovered > shifted + 0.03, "balancedness did not recover: " + shifted + " -> "
        + recovered);
    // The middle stretch counts prefill requests that ended before every worker served the rebalance:
    // none may when the switch comes sooner than a client can finish the decode request it had in flight
    // at the shift and then a whole prefill request (each at its p99; seen: switched 9-20 s after the
    // shift, decode requests taking up to 27 s and prefill ones 19-22 s). Then it is left out.
    JsonNode after = stretches.get(2);
    double requestSeconds = requestSeconds(stretches.get(0)) + requestSeconds(after);
    boolean switchedBeforeAPrefillRequestCouldEnd = summary.path("switchAfterShiftSeconds").asDouble() < requestSeconds;
    for (JsonNode stretch : stretches) {
      if (stretch == stretches.get(1) && stretch.path("requests").asInt() == 0 && switchedBeforeAPrefillRequestCouldEnd) {
        System.out.printf("RunCommandIT: no prefill request ended on the decode placement: every worker served the"
            + " rebalance %.1f s after the shift, within a decode and a prefill request (%.1f s)%n",
            summary.path("switchAfterShiftSeconds").asDouble(), requestSeconds);
        continue;
      }
      assertTrue(stretch.path("requests").asInt() > 0, "no request in " + stretch);
      assertEquals(0, stretch.path("errors").asInt(), "failed requests in " + stretch);
      assertTrue(stretch.path("tpotP50Ms").asDouble() > 0 && stretch.path("outputTokensPerSecond").asDouble() > 0,
          "no serving figures in " + stretch);
    }
    assertTrue(summary.path("firstCompletionSeconds").asDouble() > 0, "no first completion");
    assertTrue(output.contains("decode-like completion") && output.contains("prefill-like completion"),
        "the completions are not printed");
    assertTrue(Files.size(report.resolve("timeline.svg")) > 1000, "no plot");

    for (JsonNode panel : JsonMapper.builder().build().readTree(report.resolve("dashboard.json").toFile())) {
      assertTrue(panel.path("series").asInt() > 0, "dashboard panel without data: " + panel);
    }
    assertTrue(output.contains("kubectl get moe"), "the kubectl hint is missing");
    for (String port : PORTS.values()) {
      assertTrue(!listening(Integer.parseInt(port)), "something still listens on port " + port + " after the run");
    }
    assertTrue(ProcessHandle.allProcesses().noneMatch(h -> h.info().commandLine().orElse("").contains(state.toString())),
        "a process of the run is still alive");
  }

  /** A request's time at a stretch's p99: its first token, then the 31 more the demo asks for. */
  private static double requestSeconds(JsonNode stretch) {
    return (stretch.path("ttftP99Ms").asDouble() + 31 * stretch.path("tpotP99Ms").asDouble()) / 1000;
  }

  private static boolean listening(int port) {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress("127.0.0.1", port), 200);
      return true;
    } catch (IOException e) {
      return false;
    }
  }
}

package dev.moe.runtime.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moe.placement.PlacementJson;
import dev.moe.runtime.Fixtures;
import dev.moe.runtime.rebalance.Placements;
import dev.moe.stats.RoutingStats;
import dev.moe.stats.RoutingStatsJson;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code serve} and {@code replay} refuse wrong command lines with one clear line and exit code 2. */
class ServeReplayCliTest {

  @TempDir Path dir;

  private record Run(int code, String out, String err) {}

  private static Run run(String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int code = WorkerCli.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8));
    return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }

  private static void refused(String expected, String... args) {
    Run r = run(args);
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().startsWith("worker-runtime: error: ") && r.err().contains(expected), r.err());
    assertEquals(1, r.err().strip().lines().count(), "one line: " + r.err());
  }

  @Test
  void serveRefusesBadOptions() {
    String ckpt = Fixtures.dir("mixtral").toString();
    refused("--peers: 'localhost' is not HOST:PORT", "serve", "--rank", "0", "--peers", "localhost", "--checkpoint",
        ckpt);
    refused("--rank 2 is not in the group of 2 workers", "serve", "--rank", "2", "--peers", "a:1,b:2",
        "--checkpoint", ckpt);
    refused("port 70000 is not in 0..65535", "serve", "--rank", "0", "--peers", "a:70000", "--checkpoint", ckpt);
    refused("the token file", "serve", "--rank", "0", "--peers", "127.0.0.1:0", "--checkpoint", ckpt,
        "--stats-token-file", dir.resolve("missing").toString());
    refused("--tls-cert, --tls-key and --tls-ca go together", "serve", "--rank", "0", "--peers", "127.0.0.1:0",
        "--checkpoint", ckpt, "--tls-cert", dir.resolve("tls.crt").toString());
  }

  @Test
  void serveRefusesTheTokenWithoutTls() throws Exception {
    Path token = Files.writeString(dir.resolve("token"), "secret\n");
    // Without TLS the token would be accepted over plain HTTP: refused at once.
    refused("--stats-token-file needs --tls-cert, --tls-key and --tls-ca", "serve", "--rank", "0", "--peers",
        "127.0.0.1:0", "--checkpoint", Fixtures.dir("mixtral").toString(), "--stats-token-file", token.toString());
  }

  @Test
  void serveRefusesAPlacementForAnotherGroup() throws Exception {
    Path placement = dir.resolve("p.json");
    PlacementJson.write(Placements.roundRobin(2, 8, 4), placement);
    refused("the group has 2 workers", "serve", "--rank", "0", "--peers", "127.0.0.1:0,127.0.0.1:0",
        "--http", "127.0.0.1:0", "--checkpoint", Fixtures.dir("mixtral").toString(), "--placement",
        placement.toString(), "--backend", "cpu");
  }

  @Test
  void replayRefusesLayersItCannotReplay() throws Exception {
    Path stats = dir.resolve("stats.json");
    RoutingStatsJson.write(RoutingStats.ofCounts(new double[][] {{0, 0, 0, 0}, {5, 6, 7, 8}}), stats);
    Path placement = dir.resolve("p.json");
    PlacementJson.write(Placements.roundRobin(2, 4, 2), placement);
    refused("layer 0 cannot be replayed", "replay", "--workers", "2", "--stats", stats.toString(), "--placement",
        placement.toString(), "--layers", "0", "--top-k", "2");
    refused("--layers takes layer indices", "replay", "--workers", "2", "--stats", stats.toString(), "--placement",
        placement.toString(), "--layers", "one", "--top-k", "2");
    refused("--top-k 5 is more than the statistics' 4 experts", "replay", "--workers", "2", "--stats",
        stats.toString(), "--placement", placement.toString(), "--top-k", "5");
    refused("but the group has 4 workers", "replay", "--workers", "4", "--stats", stats.toString(), "--placement",
        placement.toString(), "--top-k", "2");
  }
}

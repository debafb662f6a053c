package dev.moe.runtime.stats;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moe.runtime.Fixtures;
import dev.moe.runtime.model.Checkpoint;
import dev.moe.runtime.parallel.CheckpointModel;
import dev.moe.runtime.parallel.LocalGroup;
import dev.moe.runtime.parallel.WorkerOptions;
import dev.moe.runtime.rebalance.Placements;
import dev.moe.runtime.server.BearerToken;
import dev.moe.runtime.server.HttpApi;
import dev.moe.runtime.server.NodeApi;
import dev.moe.runtime.tensor.DType;
import dev.moe.runtime.tls.ModelTls;
import dev.moe.runtime.tls.TestCertificates;
import dev.moe.stats.LayerPair;
import dev.moe.stats.RoutingStats;
import dev.moe.stats.RoutingStatsJson;
import dev.moe.stats.RoutingStatsReader;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Routing statistics: exact counts, sampled transitions, the solver's JSON format, and its guard. */
class RoutingStatsTest {

  /** Layers 0 and 1 MoE, 2 dense, 3 MoE; 4 experts; top-2. */
  private static RoutingRecorder recorder(int sampleEvery) {
    return new RoutingRecorder(4, 4, 2, sampleEvery, l -> l != 2);
  }

  @Test
  void countsAndTransitionsOfKnownRoutings() {
    try (RoutingRecorder r = recorder(1)) {
      long[] keys = {10, 11, 12};
      r.record(0, new int[] {0, 1, 0, 2, 3, 0}, 3, keys);
      r.record(1, new int[] {1, 2, 2, 3, 1, 0}, 3, keys);
      r.record(3, new int[] {3, 3, 0, 1, 1, 2}, 3, keys);
      RoutingStats s = r.snapshot(false, true);
      // Layer 0: expert 0 chosen by all three tokens, 1, 2 and 3 once each.
      assertArrayEquals(new double[] {3, 1, 1, 1}, s.logicalCount()[0]);
      assertArrayEquals(new double[] {1, 2, 2, 1}, s.logicalCount()[1]);
      assertArrayEquals(new double[] {0, 0, 0, 0}, s.logicalCount()[2], "a dense layer stays zero");
      assertArrayEquals(new double[] {1, 2, 1, 2}, s.logicalCount()[3]);
      // 0 -> 1, every token's k x k pairs: {0,1}x{1,2}, {0,2}x{2,3}, {3,0}x{1,0}.
      double[][] want = new double[4][4];
      int[][] from = {{0, 1}, {0, 2}, {3, 0}};
      int[][] to = {{1, 2}, {2, 3}, {1, 0}};
      for (int t = 0; t < 3; t++) {
        for (int i : from[t]) {
          for (int j : to[t]) {
            want[i][j]++;
          }
        }
      }
      assertArrayEquals(want, s.transitions().get(new LayerPair(0, 1)));
      // Only consecutive MoE layers are paired; 1 -> 2 -> 3 passes a dense layer.
      assertEquals(Set.of(new LayerPair(0, 1)), s.transitions().keySet());

      // The solver reads the JSON back to the same numbers.
      RoutingStats read = RoutingStatsReader.parse(RoutingStatsJson.toJson(s).getBytes(StandardCharsets.UTF_8), "test");
      assertArrayEquals(s.logicalCount(), read.logicalCount());
      assertArrayEquals(want, read.transitions().get(new LayerPair(0, 1)));

      RoutingStats reset = r.snapshot(true, true);
      assertArrayEquals(s.logicalCount(), reset.logicalCount());
      assertArrayEquals(new double[] {0, 0, 0, 0}, r.snapshot(false, true).logicalCount()[0], "reset");
    }
  }

  /** The native sampler's hash (splitmix64's finaliser, stats.cpp): key sampled when it is 0 mod N. */
  private static boolean sampled(long key, int every) {
    long z = key + 0x9e3779b97f4a7c15L;
    z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
    z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
    z ^= z >>> 31;
    return Long.remainderUnsigned(z, every) == 0;
  }

  @Test
  void transitionsCountOnlyTheSampledTokensCountsEveryToken() {
    int tokens = 400;
    int every = 4;
    int[] a = new int[tokens * 2];
    int[] b = new int[tokens * 2];
    long[] keys = new long[tokens];
    for (int t = 0; t < tokens; t++) {
      keys[t] = 1000 + t;
      a[2 * t] = t % 4;
      a[2 * t + 1] = (t + 1) % 4;
      b[2 * t] = (t / 4) % 4;
      b[2 * t + 1] = (t / 4 + 2) % 4;
    }
    double[][] want = new double[4][4];
    Set<Long> sampledKeys = new HashSet<>();
    for (int t = 0; t < tokens; t++) {
      if (sampled(keys[t], every)) {
        sampledKeys.add(keys[t]);
        for (int i = 0; i < 2; i++) {
          for (int j = 0; j < 2; j++) {
            want[a[2 * t + i]][b[2 * t + j]]++;
          }
        }
      }
    }
    assertTrue(sampledKeys.size() > tokens / every / 2 && sampledKeys.size() < tokens / every * 2,
        "a subset near 1/" + every + ": " + sampledKeys.size());
    try (RoutingRecorder r = recorder(every)) {
      r.record(0, a, tokens, keys);
      r.record(1, b, tokens, keys);
      RoutingStats s = r.snapshot(false, true);
      assertArrayEquals(want, s.transitions().get(new LayerPair(0, 1)));
      assertArrayEquals(new double[] {200, 200, 200, 200}, s.logicalCount()[0], "counts are never sampled");
    }
  }

  @Test
  void workersServeTheirCountsAsAuthenticatedJson(@TempDir Path dir) throws Exception {
    ModelTls tls = TestCertificates.authority("mixtral").issue(dir);
    // Six tokens over two workers (three each), Mixtral's fixture (8 experts, top-2, layers 0 and 1).
    int[][] ids = {
        {0, 1, 0, 2, 3, 0, 7, 6, 0, 1, 5, 0},
        {1, 2, 2, 3, 1, 0, 6, 7, 6, 5, 4, 7}};
    float[][] weights = {new float[12], new float[12]};
    Arrays.fill(weights[0], 0.5f);
    Arrays.fill(weights[1], 0.5f);
    try (Checkpoint ckpt = Checkpoint.open(Fixtures.dir("mixtral"))) {
      CheckpointModel model = new CheckpointModel(ckpt, DType.F32);
      try (LocalGroup local = LocalGroup.start(2, model, Placements.roundRobin(2, 8, 2), WorkerOptions.defaults());
          HttpApi http = new HttpApi(new InetSocketAddress("127.0.0.1", 0), new NodeApi(local.nodes().get(1), 1 << 20),
              BearerToken.of("s3cret"), tls)) {
        local.group().step(new float[6 * model.hidden()], 6, new int[] {0, 1}, 2, ids, weights).join();
        URI stats = URI.create("https://127.0.0.1:" + http.address().getPort() + "/stats");
        try (HttpClient client = HttpClient.newBuilder().sslContext(tls.sslContext()).build()) {
          HttpResponse<String> denied = client.send(HttpRequest.newBuilder(stats).build(),
              HttpResponse.BodyHandlers.ofString());
          assertEquals(401, denied.statusCode());
          HttpResponse<String> wrong = client.send(HttpRequest.newBuilder(stats)
              .header("Authorization", "Bearer s3cret!").build(), HttpResponse.BodyHandlers.ofString());
          assertEquals(401, wrong.statusCode());
          HttpResponse<byte[]> ok = client.send(HttpRequest.newBuilder(stats)
              .header("Authorization", "Bearer s3cret").build(), HttpResponse.BodyHandlers.ofByteArray());
          assertEquals(200, ok.statusCode());
          RoutingStats read = RoutingStatsReader.parse(ok.body(), "GET /stats");
          // Worker 1 routed tokens 3..5: layer 0 {7,6}, {0,1}, {5,0}; layer 1 {6,7}, {6,5}, {4,7}.
          assertArrayEquals(new double[] {2, 1, 0, 0, 0, 1, 1, 1}, read.logicalCount()[0]);
          assertArrayEquals(new double[] {0, 0, 0, 0, 1, 1, 2, 2}, read.logicalCount()[1]);
          double[][] t = read.transitions().get(new LayerPair(0, 1));
          assertEquals(12, Arrays.stream(t).flatMapToDouble(Arrays::stream).sum());
          assertEquals(1, t[7][6]);
          assertEquals(1, t[0][5]);
          assertEquals(2, t[0][7] + t[0][4], "token 5: {5,0} -> {4,7}");

          // What the operator reads: the counts alone.
          HttpResponse<byte[]> counts = client.send(HttpRequest.newBuilder(URI.create(stats + "?transitions=false"))
              .header("Authorization", "Bearer s3cret").build(), HttpResponse.BodyHandlers.ofByteArray());
          RoutingStats countsOnly = RoutingStatsReader.parse(counts.body(), "GET /stats?transitions=false");
          assertArrayEquals(read.logicalCount(), countsOnly.logicalCount());
          assertTrue(countsOnly.transitions().isEmpty(), "transitions were not asked for");
          assertTrue(counts.body().length < ok.body().length, counts.body().length + " vs " + ok.body().length);
        }
      }
    }
  }
}

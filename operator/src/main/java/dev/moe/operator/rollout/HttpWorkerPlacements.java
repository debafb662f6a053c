package dev.moe.operator.rollout;

import dev.moe.crds.v1alpha1.MoEModel;
import dev.moe.operator.workers.WorkerCredentials;
import dev.moe.operator.workers.WorkerHttp;
import dev.moe.operator.workers.WorkerHttp.Reply;
import dev.moe.operator.workers.WorkerPods;
import dev.moe.placement.Placement;
import dev.moe.placement.PlacementJson;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/**
 * The workers' {@code GET /placement} and {@code POST /placement?version=N} on their control port
 * (HTTPS, the model's CA), with the model's bearer token. A worker without an address, or with none
 * of the token or the CA yet, is "not now".
 */
public final class HttpWorkerPlacements implements WorkerPlacements {

  private final KubernetesClient client;
  private final WorkerHttp http;

  public HttpWorkerPlacements(KubernetesClient client, WorkerHttp http) {
    this.client = client;
    this.http = http;
  }

  @Override
  public Map<Integer, WorkerVersions> read(MoEModel model, Set<Integer> workers) {
    Optional<WorkerCredentials> credentials = WorkerCredentials.read(client, model);
    Map<Integer, WorkerVersions> versions = new HashMap<>();
    if (credentials.isEmpty()) {
      return versions;
    }
    Map<Integer, Reply> replies = http.control(credentials.get(), WorkerPods.addresses(client, model, workers),
        ip -> HttpRequest.newBuilder(WorkerHttp.controlUri(ip, "/placement")).timeout(Duration.ofSeconds(5)).GET());
    replies.forEach((worker, reply) -> {
      if (reply.status() == 200) {
        try {
          versions.put(worker, WorkerVersions.parse(reply.body()));
        } catch (IllegalArgumentException e) {
          // Not a worker runtime's answer: as unreadable as no answer.
        }
      }
    });
    return versions;
  }

  @Override
  public Set<Integer> stage(MoEModel model, long revision, Placement placement, Set<Integer> workers) {
    Set<Integer> notTaken = new TreeSet<>(workers);
    Optional<WorkerCredentials> credentials = WorkerCredentials.read(client, model);
    if (credentials.isEmpty() || workers.isEmpty()) {
      return notTaken;
    }
    byte[] body = PlacementJson.toJson(placement).getBytes(StandardCharsets.UTF_8);
    Map<Integer, Reply> replies = http.control(credentials.get(), WorkerPods.addresses(client, model, workers),
        ip -> HttpRequest.newBuilder(WorkerHttp.controlUri(ip, "/placement?version=" + revision))
            .timeout(Duration.ofSeconds(30)).header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofByteArray(body)));
    for (var e : replies.entrySet()) {
      int status = e.getValue().status();
      if (status / 100 == 2) {
        notTaken.remove(e.getKey());
      } else if (status / 100 == 4 && status != 409) {
        // 409: it is staging another version; 5xx: still loading. Anything else 4xx is a refusal.
        throw new RolloutException("worker " + WorkerPods.name(model, e.getKey()) + " refused revision " + revision
            + ": " + e.getValue().describe());
      }
    }
    return notTaken;
  }
}

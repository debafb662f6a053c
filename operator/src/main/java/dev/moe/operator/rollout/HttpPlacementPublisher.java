package dev.moe.operator.rollout;

import dev.moe.crds.v1alpha1.MoEModel;
import dev.moe.operator.dependent.StatsTokenSecretDependent;
import dev.moe.operator.dependent.WorkerStatefulSetDependent;
import dev.moe.placement.Placement;
import dev.moe.placement.PlacementJson;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Posts the placement to every worker's {@code POST /placement?version=N} with the model's bearer
 * token (the worker runtime's API); a worker without an address yet means "not yet".
 */
public final class HttpPlacementPublisher implements PlacementPublisher {

  private final KubernetesClient client;
  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(3)).build();

  public HttpPlacementPublisher(KubernetesClient client) {
    this.client = client;
  }

  @Override
  public boolean publish(MoEModel model, long revision, Placement placement, Set<Integer> workers) {
    String ns = model.getMetadata().getNamespace();
    List<Pod> pods = new ArrayList<>();
    for (int w : workers) {
      Pod pod = client.pods().inNamespace(ns).withName(WorkerStatefulSetDependent.name(model) + "-" + w).get();
      if (pod == null || pod.getStatus() == null || pod.getStatus().getPodIP() == null) {
        return false;
      }
      pods.add(pod);
    }
    Optional<String> secret = StatsTokenSecretDependent.token(client, model);
    if (secret.isEmpty()) {
      return false;
    }
    String token = secret.get();
    byte[] body = PlacementJson.toJson(placement).getBytes(StandardCharsets.UTF_8);
    for (Pod pod : pods) {
      URI uri = URI.create("http://" + pod.getStatus().getPodIP() + ":" + WorkerStatefulSetDependent.HTTP_PORT
          + "/placement?version=" + revision);
      HttpRequest request = HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(30))
          .header("Authorization", "Bearer " + token).header("Content-Type", "application/json")
          .POST(HttpRequest.BodyPublishers.ofByteArray(body)).build();
      try {
        HttpResponse<String> response = http.send(request, HttpResponse.BodyHandlers.ofString());
        if (response.statusCode() / 100 != 2) {
          throw new RolloutException("worker " + pod.getMetadata().getName() + " refused revision " + revision + ": "
              + response.statusCode() + " " + response.body().strip());
        }
      } catch (IOException e) {
        return false;
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return false;
      }
    }
    return true;
  }
}

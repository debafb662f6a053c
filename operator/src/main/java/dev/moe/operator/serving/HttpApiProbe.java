package dev.moe.operator.serving;

import dev.moe.crds.v1alpha1.MoEModel;
import dev.moe.operator.dependent.WorkerStatefulSetDependent;
import dev.moe.operator.workers.WorkerHttp;
import dev.moe.operator.workers.WorkerPods;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.net.http.HttpRequest;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/** {@code GET /health} on each worker's API port: 200 while its serving engine takes requests. */
public final class HttpApiProbe implements ApiProbe {

  /** Short: a worker that takes longer to say it is healthy is not serving well either. */
  static final Duration TIMEOUT = Duration.ofSeconds(2);

  private final KubernetesClient client;
  private final WorkerHttp http;

  public HttpApiProbe(KubernetesClient client, WorkerHttp http) {
    this.client = client;
    this.http = http;
  }

  @Override
  public Map<Integer, String> unanswered(MoEModel model, Set<Integer> workers) {
    Map<Integer, String> addresses = WorkerPods.addresses(client, model, workers);
    Map<Integer, String> unanswered = new TreeMap<>();
    for (int w : workers) {
      if (!addresses.containsKey(w)) {
        unanswered.put(w, "no pod IP");
      }
    }
    http.send(addresses, ip -> HttpRequest.newBuilder(WorkerHttp.uri(ip, WorkerStatefulSetDependent.API_PORT, "/health"))
        .timeout(TIMEOUT).GET().build()).forEach((worker, reply) -> {
          if (reply.status() != 200) {
            unanswered.put(worker, reply.describe());
          }
        });
    return unanswered;
  }
}

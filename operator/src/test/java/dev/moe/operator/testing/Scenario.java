package dev.moe.operator.testing;

import dev.moe.crds.v1alpha1.ExpertPlacement;
import dev.moe.crds.v1alpha1.MoEModel;
import dev.moe.operator.cluster.ControlPlane;
import dev.moe.operator.cluster.Kubectl;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Duration;
import java.util.List;
import java.util.function.Predicate;

/** One namespace of a test: its models, their statistics ConfigMap and worker pods. */
public final class Scenario {

  public final String ns;
  public final KubernetesClient client;

  public Scenario(KubernetesClient client, String ns) {
    this.client = client;
    this.ns = ns;
    Models.namespace(client, ns);
  }

  /** The recorded DeepSeek-V3 decode statistics as the models' initial statistics. */
  public void decodeStatistics() {
    client.configMaps().inNamespace(ns).resource(new ConfigMapBuilder().withNewMetadata().withName("statistics")
        .endMetadata().addToData("logical_count", RecordedStatistics.resourceText("decode_in1000out1000.json")).build())
        .serverSideApply();
  }

  public void apply(String manifest) {
    Kubectl.Result r = ControlPlane.get().kubectl(manifest, "apply", "-f", "-");
    if (r.exitCode() != 0) {
      throw new AssertionError("kubectl apply failed: " + r.stderr());
    }
  }

  public void readyWorkers(String model, int workers) {
    for (int w = 0; w < workers; w++) {
      Models.readyWorker(client, ns, model, w);
    }
  }

  public MoEModel await(String model, Duration timeout, Predicate<MoEModel> condition) {
    return Models.await(client, ns, model, timeout, condition);
  }

  public MoEModel get(String model) {
    return client.resources(MoEModel.class).inNamespace(ns).withName(model).get();
  }

  /** The Events the operator recorded on {@code model}. */
  public List<Event> events(String model) {
    return client.v1().events().inNamespace(ns).list().getItems().stream()
        .filter(e -> model.equals(e.getInvolvedObject().getName())).toList();
  }

  public List<ExpertPlacement> revisions(String model) {
    return client.resources(ExpertPlacement.class).inNamespace(ns).withLabel("moe.dev/model", model).list()
        .getItems();
  }
}

package dev.moe.operator.reconcile;

import dev.moe.crds.v1alpha1.MoEModel;
import io.fabric8.kubernetes.api.model.EventBuilder;
import io.fabric8.kubernetes.api.model.ObjectReferenceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.time.Instant;
import java.util.Locale;
import java.util.UUID;

/** Kubernetes Events on a MoEModel, for {@code kubectl describe moe} and event-based alerting. */
final class EventRecorder {

  static final String COMPONENT = "moe-operator";

  private EventRecorder() {}

  static void record(KubernetesClient client, MoEModel model, boolean warning, String reason, String message) {
    String now = Instant.now().toString();
    var event = new EventBuilder()
        .withNewMetadata()
        .withName(model.getMetadata().getName() + "." + UUID.randomUUID().toString().substring(0, 13).toLowerCase(Locale.ROOT))
        .withNamespace(model.getMetadata().getNamespace())
        .endMetadata()
        .withInvolvedObject(new ObjectReferenceBuilder().withApiVersion(model.getApiVersion()).withKind(model.getKind())
            .withName(model.getMetadata().getName()).withNamespace(model.getMetadata().getNamespace())
            .withUid(model.getMetadata().getUid()).build())
        .withType(warning ? "Warning" : "Normal")
        .withReason(reason)
        .withMessage(message)
        .withFirstTimestamp(now)
        .withLastTimestamp(now)
        .withCount(1)
        .withNewSource().withComponent(COMPONENT).endSource()
        .build();
    try {
      client.v1().events().inNamespace(model.getMetadata().getNamespace()).resource(event).create();
    } catch (KubernetesClientException e) {
      // An event is a courtesy: losing one must not fail the reconcile that reported it.
    }
  }
}

package dev.moe.operator.workers;

import dev.moe.crds.v1alpha1.MoEModel;
import dev.moe.operator.dependent.StatsTokenSecretDependent;
import dev.moe.operator.dependent.WorkerTlsSecretDependent;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.util.Optional;

/**
 * What a call to a model's workers' control API takes: trust in the model's CA (PEM) and the
 * model's bearer token, both read from the Secrets the operator keeps for the model.
 */
public record WorkerCredentials(String caCertificate, String token) {

  /** Both, or empty while either Secret is missing (a model being set up). */
  public static Optional<WorkerCredentials> read(KubernetesClient client, MoEModel model) {
    return StatsTokenSecretDependent.token(client, model).flatMap(token ->
        WorkerTlsSecretDependent.caCertificate(client, model).map(ca -> new WorkerCredentials(ca, token)));
  }

  /** What {@link #read} needs, for a message when it found nothing. */
  public static String secrets(MoEModel model) {
    return "the Secrets " + StatsTokenSecretDependent.name(model) + " (token) and " + WorkerTlsSecretDependent.name(model)
        + " (the model's CA)";
  }
}

package dev.moe.operator.dependent;

import dev.moe.crds.v1alpha1.MoEModel;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Map;
import java.util.Optional;

/** The operator's Secrets of a model: found among the reconcile's secondaries, or read from the API server. */
public final class ModelSecrets {

  private ModelSecrets() {}

  /** The Secret {@code name} as the informers hold it (a model has several Secrets: picked by name). */
  static Optional<Secret> secondary(Context<MoEModel> context, String name) {
    return context.getSecondaryResourcesAsStream(Secret.class)
        .filter(s -> name.equals(s.getMetadata().getName())).findFirst();
  }

  /** The decoded value of {@code key} in the model's Secret {@code name}; empty while either is missing. */
  static Optional<String> read(KubernetesClient client, MoEModel model, String name, String key) {
    return Optional.ofNullable(client.secrets().inNamespace(model.getMetadata().getNamespace()).withName(name).get())
        .flatMap(s -> value(s, key));
  }

  /** The decoded value of {@code key} in {@code secret}. */
  static Optional<String> value(Secret secret, String key) {
    return Optional.ofNullable(secret.getData()).map(d -> d.get(key))
        .map(b64 -> new String(Base64.getDecoder().decode(b64), StandardCharsets.US_ASCII));
  }

  /** {@code values} as a Secret's data (base64). */
  static Map<String, String> data(Map<String, String> values) {
    Map<String, String> data = new java.util.TreeMap<>();
    values.forEach((k, v) -> data.put(k, Base64.getEncoder().encodeToString(v.getBytes(StandardCharsets.US_ASCII))));
    return data;
  }
}

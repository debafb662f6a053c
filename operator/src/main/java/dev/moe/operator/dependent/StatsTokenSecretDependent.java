package dev.moe.operator.dependent;

import dev.moe.crds.v1alpha1.MoEModel;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.javaoperatorsdk.operator.api.config.informer.Informer;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.processing.dependent.kubernetes.CRUDKubernetesDependentResource;
import io.javaoperatorsdk.operator.processing.dependent.kubernetes.KubernetesDependent;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.Map;
import java.util.Optional;

/**
 * The bearer token that guards the workers' {@code /stats} and {@code /placement}: made once per
 * model, random, kept across reconciles (the desired state is the existing token).
 */
@KubernetesDependent(informer = @Informer(labelSelector = WorkerLabels.MANAGED))
public class StatsTokenSecretDependent extends CRUDKubernetesDependentResource<Secret, MoEModel> {

  public static final String KEY = "token";
  private static final SecureRandom RANDOM = new SecureRandom();

  public StatsTokenSecretDependent() {
    super(Secret.class);
  }

  public static String name(MoEModel model) {
    return model.getMetadata().getName() + "-stats-token";
  }

  /** The model's token as the workers read it; empty until the Secret exists. */
  public static Optional<String> token(KubernetesClient client, MoEModel model) {
    return ModelSecrets.read(client, model, name(model), KEY);
  }

  @Override
  protected Secret desired(MoEModel model, Context<MoEModel> context) {
    String token = ModelSecrets.secondary(context, name(model))
        .map(Secret::getData).map(d -> d.get(KEY))
        .orElseGet(StatsTokenSecretDependent::newToken);
    return new SecretBuilder()
        .withNewMetadata().withName(name(model)).withNamespace(model.getMetadata().getNamespace())
        .withLabels(WorkerLabels.of(model)).endMetadata()
        .withType("Opaque")
        .withData(Map.of(KEY, token))
        .build();
  }

  private static String newToken() {
    byte[] bytes = new byte[32];
    RANDOM.nextBytes(bytes);
    String token = Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
    return Base64.getEncoder().encodeToString(token.getBytes(StandardCharsets.US_ASCII));
  }
}

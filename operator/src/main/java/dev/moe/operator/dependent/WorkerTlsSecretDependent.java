package dev.moe.operator.dependent;

import dev.moe.crds.v1alpha1.MoEModel;
import dev.moe.operator.tls.ModelCertificates;
import dev.moe.operator.tls.ModelCertificates.Material;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.javaoperatorsdk.operator.api.config.informer.Informer;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.processing.dependent.kubernetes.CRUDKubernetesDependentResource;
import io.javaoperatorsdk.operator.processing.dependent.kubernetes.KubernetesDependent;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;

/**
 * The model's CA and its workers' certificate ({@link ModelCertificates}): mutual TLS between the
 * workers, HTTPS for their control API. Made once per model; the certificate is issued again, by
 * the same CA, when under a third of its lifetime is left (the reconcile looks at least every 30
 * s); the kubelet then updates the mounted files and the workers use them for new connections.
 * The workers mount the certificate, its key and the CA certificate, never the CA key.
 */
@KubernetesDependent(informer = @Informer(labelSelector = WorkerLabels.MANAGED))
public class WorkerTlsSecretDependent extends CRUDKubernetesDependentResource<Secret, MoEModel> {

  public static final String CA_CERTIFICATE = "ca.crt";
  static final String CA_KEY = "ca.key";
  public static final String CERTIFICATE = "tls.crt";
  public static final String KEY = "tls.key";

  public WorkerTlsSecretDependent() {
    super(Secret.class);
  }

  public static String name(MoEModel model) {
    return model.getMetadata().getName() + "-tls";
  }

  /** The model's CA certificate (PEM), which the operator trusts for its workers; empty until the Secret exists. */
  public static Optional<String> caCertificate(KubernetesClient client, MoEModel model) {
    return ModelSecrets.read(client, model, name(model), CA_CERTIFICATE);
  }

  @Override
  protected Secret desired(MoEModel model, Context<MoEModel> context) {
    Optional<Material> existing = ModelSecrets.secondary(context, name(model)).flatMap(WorkerTlsSecretDependent::material);
    Material m = ModelCertificates.desired(existing, model.getMetadata().getName(),
        WorkerStatefulSetDependent.name(model), model.getMetadata().getNamespace(), Instant.now());
    return new SecretBuilder()
        .withNewMetadata().withName(name(model)).withNamespace(model.getMetadata().getNamespace())
        .withLabels(WorkerLabels.of(model)).endMetadata()
        .withType("kubernetes.io/tls")
        .withData(ModelSecrets.data(Map.of(CA_CERTIFICATE, m.caCertificate(), CA_KEY, m.caKey(),
            CERTIFICATE, m.certificate(), KEY, m.key())))
        .build();
  }

  private static Optional<Material> material(Secret s) {
    Optional<String> ca = ModelSecrets.value(s, CA_CERTIFICATE);
    Optional<String> caKey = ModelSecrets.value(s, CA_KEY);
    Optional<String> certificate = ModelSecrets.value(s, CERTIFICATE);
    Optional<String> key = ModelSecrets.value(s, KEY);
    if (ca.isEmpty() || caKey.isEmpty() || certificate.isEmpty() || key.isEmpty()) {
      return Optional.empty();
    }
    return Optional.of(new Material(ca.get(), caKey.get(), certificate.get(), key.get()));
  }
}

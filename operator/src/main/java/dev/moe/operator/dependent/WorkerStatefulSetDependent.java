package dev.moe.operator.dependent;

import dev.moe.crds.v1alpha1.ApiPolicy;
import dev.moe.crds.v1alpha1.MoEModel;
import dev.moe.crds.v1alpha1.MoEModelSpec;
import io.fabric8.kubernetes.api.model.ContainerBuilder;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.EnvVarBuilder;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.ProbeBuilder;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeBuilder;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.VolumeMountBuilder;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.apps.StatefulSetBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.javaoperatorsdk.operator.api.config.informer.Informer;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.processing.dependent.kubernetes.CRUDKubernetesDependentResource;
import io.javaoperatorsdk.operator.processing.dependent.kubernetes.KubernetesDependent;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.StringJoiner;

/**
 * The worker pods: one StatefulSet, so each worker has a stable ordinal (its rank in the expert
 * parallel group) and DNS name. The pods run worker-runtime's {@code serve} with its OpenAI API; the
 * placement reaches them through {@code POST /placement}, so a placement change never restarts a pod.
 */
@KubernetesDependent(informer = @Informer(labelSelector = WorkerLabels.MANAGED))
public class WorkerStatefulSetDependent extends CRUDKubernetesDependentResource<StatefulSet, MoEModel> {

  /** Plain HTTP: probes and metrics, nothing secret. */
  public static final int HTTP_PORT = 8080;
  /** HTTPS with the model's certificate: /stats and /placement, with the token. */
  public static final int CONTROL_PORT = 8443;
  public static final int TRANSPORT_PORT = 7070;
  /** The OpenAI-compatible API every worker serves (data-parallel attention: any worker takes a request). */
  public static final int API_PORT = 8000;
  static final String WEIGHTS_DIR = "/weights";
  static final String TOKEN_DIR = "/var/run/moe/stats";
  static final String TLS_DIR = "/var/run/moe/tls";
  static final String API_KEY_DIR = "/var/run/moe/api";

  public WorkerStatefulSetDependent() {
    super(StatefulSet.class);
  }

  public static String name(MoEModel model) {
    return model.getMetadata().getName() + "-workers";
  }

  /** The label selector of the model's worker pods (also the scale subresource's). */
  public static Map<String, String> selector(MoEModel model) {
    return Map.of(WorkerLabels.MODEL, model.getMetadata().getName(), "app.kubernetes.io/name", "moe-worker");
  }

  @Override
  protected StatefulSet desired(MoEModel model, Context<MoEModel> context) {
    MoEModelSpec spec = model.getSpec();
    String ns = model.getMetadata().getNamespace();
    int workers = spec.getParallelism().getWorkers();
    StringJoiner peers = new StringJoiner(",");
    for (int w = 0; w < workers; w++) {
      peers.add(name(model) + "-" + w + "." + name(model) + "." + ns + ".svc:" + TRANSPORT_PORT);
    }
    List<String> args = new ArrayList<>(List.of("serve",
        "--rank=$(POD_INDEX)",
        "--peers=" + peers,
        "--listen=0.0.0.0:" + TRANSPORT_PORT,
        "--http=0.0.0.0:" + HTTP_PORT,
        "--control=0.0.0.0:" + CONTROL_PORT,
        "--tls-cert=" + TLS_DIR + "/" + WorkerTlsSecretDependent.CERTIFICATE,
        "--tls-key=" + TLS_DIR + "/" + WorkerTlsSecretDependent.KEY,
        "--tls-ca=" + TLS_DIR + "/" + WorkerTlsSecretDependent.CA_CERTIFICATE,
        "--api=0.0.0.0:" + API_PORT,
        "--served-model-name=" + model.getMetadata().getName(),
        "--stats-token-file=" + TOKEN_DIR + "/" + StatsTokenSecretDependent.KEY));
    List<Volume> volumes = new ArrayList<>();
    List<VolumeMount> mounts = new ArrayList<>();
    String keySecret = apiKeySecret(model);
    if (keySecret != null) {
      args.add("--api-key-file=" + API_KEY_DIR + "/" + ApiPolicy.KEY);
      volumes.add(new VolumeBuilder().withName("api-key").withNewSecret().withSecretName(keySecret)
          .addNewItem().withKey(ApiPolicy.KEY).withPath(ApiPolicy.KEY).endItem().endSecret().build());
      mounts.add(new VolumeMountBuilder().withName("api-key").withMountPath(API_KEY_DIR).withReadOnly(true).build());
    }
    var weightsVolume = new VolumeBuilder().withName("weights");
    if (spec.getWeights().getPvc() != null) {
      var pvc = spec.getWeights().getPvc();
      weightsVolume.withNewPersistentVolumeClaim().withClaimName(pvc.getClaimName()).withReadOnly(true)
          .endPersistentVolumeClaim();
      args.add("--checkpoint=" + WEIGHTS_DIR + "/" + (pvc.getPath() == null ? "" : pvc.getPath().replaceFirst("^/", "")));
    } else {
      // A URI is fetched into this volume by the init container before the worker starts.
      weightsVolume.withNewEmptyDir().endEmptyDir();
      args.add("--checkpoint=" + WEIGHTS_DIR);
    }
    List<EnvVar> env = new ArrayList<>(List.of(new EnvVarBuilder().withName("POD_INDEX").withNewValueFrom()
        .withNewFieldRef().withFieldPath("metadata.labels['apps.kubernetes.io/pod-index']").endFieldRef()
        .endValueFrom().build()));
    var container = new ContainerBuilder()
        .withName("worker")
        .withImage(spec.getImage())
        .withArgs(args)
        .withEnv(env)
        .addNewPort().withName("http").withContainerPort(HTTP_PORT).endPort()
        .addNewPort().withName("control").withContainerPort(CONTROL_PORT).endPort()
        .addNewPort().withName("transport").withContainerPort(TRANSPORT_PORT).endPort()
        .addNewPort().withName("api").withContainerPort(API_PORT).endPort()
        .withResources(spec.getResources())
        .withReadinessProbe(new ProbeBuilder().withNewHttpGet().withPath("/readyz").withPort(new IntOrString("http"))
            .endHttpGet().withPeriodSeconds(5).build())
        .withLivenessProbe(new ProbeBuilder().withNewHttpGet().withPath("/healthz").withPort(new IntOrString("http"))
            .endHttpGet().withPeriodSeconds(10).withFailureThreshold(6).build())
        .withVolumeMounts(
            new VolumeMountBuilder().withName("weights").withMountPath(WEIGHTS_DIR).withReadOnly(true).build(),
            new VolumeMountBuilder().withName("stats-token").withMountPath(TOKEN_DIR).withReadOnly(true).build(),
            new VolumeMountBuilder().withName("tls").withMountPath(TLS_DIR).withReadOnly(true).build())
        .addAllToVolumeMounts(mounts)
        .build();
    Map<String, String> podLabels = new java.util.HashMap<>(WorkerLabels.of(model));
    podLabels.putAll(selector(model));
    return new StatefulSetBuilder()
        .withNewMetadata().withName(name(model)).withNamespace(ns).withLabels(WorkerLabels.of(model)).endMetadata()
        .withNewSpec()
        .withReplicas(workers)
        .withServiceName(name(model))
        // All workers start together: expert parallelism needs the whole group.
        .withPodManagementPolicy("Parallel")
        .withNewSelector().withMatchLabels(selector(model)).endSelector()
        .withNewTemplate()
        .withNewMetadata().withLabels(podLabels)
        .withAnnotations(Map.of("prometheus.io/scrape", "true", "prometheus.io/port", String.valueOf(HTTP_PORT)))
        .endMetadata()
        .withNewSpec()
        .withServiceAccountName(WorkerServiceAccountDependent.name(model))
        .withNodeSelector(spec.getNodeSelector())
        .withTolerations(spec.getTolerations())
        .withAffinity(spec.getAffinity())
        .withTerminationGracePeriodSeconds(40L)
        .withInitContainers(WeightsFetchContainer.of(model, "weights", WEIGHTS_DIR))
        .withContainers(container)
        .withVolumes(weightsVolume.build(),
            new VolumeBuilder().withName("stats-token").withNewSecret().withSecretName(StatsTokenSecretDependent.name(model))
                .endSecret().build(),
            tlsVolume(model))
        .addAllToVolumes(volumes)
        .endSpec()
        .endTemplate()
        .endSpec()
        .build();
  }

  private static String apiKeySecret(MoEModel model) {
    return model.getSpec().getApi() == null ? null : model.getSpec().getApi().getKeySecret();
  }

  /**
   * Why the workers cannot start for want of the API key: {@code api.keySecret} names a Secret that
   * is not there or has no {@code api-key} (a pod mounting it waits in ContainerCreating, saying so
   * only in its events); empty when no key is asked for or it is there.
   */
  public static Optional<String> apiKeyMissing(KubernetesClient client, MoEModel model) {
    String secret = apiKeySecret(model);
    if (secret == null || ModelSecrets.read(client, model, secret, ApiPolicy.KEY).filter(k -> !k.isBlank()).isPresent()) {
      return Optional.empty();
    }
    return Optional.of("api.keySecret: the Secret " + model.getMetadata().getNamespace() + "/" + secret
        + " is missing or has no key '" + ApiPolicy.KEY + "'; the workers mount it and cannot start without it");
  }

  /** The model's TLS Secret without the CA key: a worker presents and checks certificates, it never issues one. */
  private static Volume tlsVolume(MoEModel model) {
    var secret = new VolumeBuilder().withName("tls").withNewSecret().withSecretName(WorkerTlsSecretDependent.name(model));
    for (String key : List.of(WorkerTlsSecretDependent.CERTIFICATE, WorkerTlsSecretDependent.KEY,
        WorkerTlsSecretDependent.CA_CERTIFICATE)) {
      secret.addNewItem().withKey(key).withPath(key).endItem();
    }
    return secret.endSecret().build();
  }
}

package dev.moe.operator.dependent;

import dev.moe.crds.v1alpha1.MoEModel;
import dev.moe.crds.v1alpha1.Weights;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerBuilder;
import io.fabric8.kubernetes.api.model.EnvFromSourceBuilder;
import io.fabric8.kubernetes.api.model.VolumeMountBuilder;
import java.util.ArrayList;
import java.util.List;

/**
 * The workers' init container for a model whose weights are a URI: the worker image's own
 * {@code fetch-weights} downloads them into the weights volume (an emptyDir the worker then mounts
 * read-only), with the keys of {@code weights.credentialsSecret} as its environment. It fails with
 * a message naming the URI in its termination message, which the reconciler turns into
 * {@code WeightsReady=False}.
 */
public final class WeightsFetchContainer {

  public static final String NAME = "fetch-weights";

  private WeightsFetchContainer() {}

  /** The init containers of the model's worker pods: this one for a URI, none for a PVC. */
  static List<Container> of(MoEModel model, String volume, String dir) {
    Weights weights = model.getSpec().getWeights();
    if (weights.getUri() == null) {
      return List.of();
    }
    List<String> args = new ArrayList<>(List.of(NAME, "--uri=" + weights.getUri(), "--dest=" + dir));
    if (weights.getS3Endpoint() != null) {
      args.add("--s3-endpoint=" + weights.getS3Endpoint());
    }
    if (weights.getS3Region() != null) {
      args.add("--s3-region=" + weights.getS3Region());
    }
    var container = new ContainerBuilder()
        .withName(NAME)
        .withImage(model.getSpec().getImage())
        .withArgs(args)
        .withVolumeMounts(new VolumeMountBuilder().withName(volume).withMountPath(dir).build())
        // The fetcher writes its message there; a crash before it still leaves the log's tail.
        .withTerminationMessagePolicy("FallbackToLogsOnError");
    if (weights.getCredentialsSecret() != null) {
      container.withEnvFrom(new EnvFromSourceBuilder().withNewSecretRef().withName(weights.getCredentialsSecret())
          .endSecretRef().build());
    }
    return List.of(container.build());
  }
}

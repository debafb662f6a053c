package dev.moe.localcluster.system;

import dev.moe.crds.v1alpha1.MoEModel;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.function.BooleanSupplier;
import java.util.function.Predicate;

/** What the demo and the scale scenario do with one MoEModel: apply it with its statistics, read it, wait on it. */
public final class ModelClient {

  private final KubernetesClient client;
  private final String namespace;
  private final String name;

  public ModelClient(KubernetesClient client, String namespace, String name) {
    this.client = client;
    this.namespace = namespace;
    this.name = name;
  }

  /**
   * Applies the namespace, a ConfigMap {@code <name>-statistics} holding {@code statistics} under
   * {@code logical_count} (the model's initial statistics), and the model's manifest, server-side.
   */
  public void apply(Path statistics, Path manifest) {
    client.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(namespace).endMetadata().build())
        .serverSideApply();
    try {
      client.configMaps().inNamespace(namespace).resource(new ConfigMapBuilder().withNewMetadata()
          .withName(name + "-statistics").endMetadata()
          .withData(Map.of("logical_count", Files.readString(statistics))).build()).serverSideApply();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the statistics " + statistics, e);
    }
    try (InputStream yaml = Files.newInputStream(manifest)) {
      client.resources(MoEModel.class).load(yaml).serverSideApply();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the model's manifest " + manifest, e);
    }
  }

  public MoEModel get() {
    return client.resources(MoEModel.class).inNamespace(namespace).withName(name).get();
  }

  /** Polls the model every second until {@code done} holds; fails naming {@code what} after {@code timeout}. */
  public MoEModel await(String what, Predicate<MoEModel> done, Duration timeout, BooleanSupplier stop) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < deadline) {
      if (stop.getAsBoolean()) {
        throw new IllegalStateException("stopped while waiting for " + what);
      }
      MoEModel m = get();
      if (m != null && m.getStatus() != null && done.test(m)) {
        return m;
      }
      sleep(Duration.ofSeconds(1));
    }
    throw new IllegalStateException("no " + what + " within " + timeout.toSeconds() + " s; see kubectl -n " + namespace
        + " describe moe " + name + " and the pods' logs");
  }

  public static Optional<Condition> condition(MoEModel m, String type) {
    return m.getStatus() == null || m.getStatus().getConditions() == null ? Optional.empty()
        : m.getStatus().getConditions().stream().filter(c -> c.getType().equals(type)).findFirst();
  }

  public static boolean isTrue(MoEModel m, String type) {
    return condition(m, type).map(c -> "True".equals(c.getStatus())).orElse(false);
  }

  public static void sleep(Duration d) {
    try {
      Thread.sleep(d);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
  }
}

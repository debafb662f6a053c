package dev.moe.operator.chart;

import com.marcnuri.helm.Helm;
import dev.moe.operator.cluster.ControlPlane;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/** charts/moe-operator, rendered by Helm itself (helm-java) into the objects it would install. */
final class Chart {

  static final Path DIR = ControlPlane.repoRoot().resolve("charts").resolve("moe-operator");
  static final String RELEASE = "moe";
  /** What the chart names its objects for release {@link #RELEASE}. */
  static final String FULLNAME = "moe-moe-operator";
  static final KubernetesSerialization SERIALIZATION = new KubernetesSerialization();

  private final List<GenericKubernetesResource> objects;

  private Chart(List<GenericKubernetesResource> objects) {
    this.objects = objects;
  }

  static Helm helm() {
    return new Helm(DIR);
  }

  /** {@code helm template} with a values file of this YAML. */
  static Chart render(String values) {
    Path file = valuesFile(values);
    try {
      String rendered = helm().template().withName(RELEASE).withNamespace("moe-system").withValuesFile(file).call();
      return new Chart(Arrays.stream(rendered.split("(?m)^---\\s*$")).map(String::strip)
          .filter(doc -> doc.lines().anyMatch(l -> l.startsWith("kind:")))
          .map(doc -> SERIALIZATION.unmarshal(doc, GenericKubernetesResource.class)).toList());
    } finally {
      file.toFile().delete();
    }
  }

  static Path valuesFile(String values) {
    try {
      Path file = Files.createTempFile("moe-operator-values", ".yaml");
      Files.writeString(file, values);
      return file;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  List<String> kinds() {
    return objects.stream().map(GenericKubernetesResource::getKind).toList();
  }

  Optional<GenericKubernetesResource> find(String kind) {
    return objects.stream().filter(o -> kind.equals(o.getKind())).findFirst();
  }

  /** The one object of a kind, as its typed model. */
  <T extends HasMetadata> T get(String kind, Class<T> type) {
    return SERIALIZATION.convertValue(find(kind).orElseThrow(() -> new AssertionError("no " + kind + " in " + kinds())),
        type);
  }

  static String projectVersion() {
    return System.getProperty("moe.project.version");
  }
}

package dev.moe.localcluster.node;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.Resource;
import java.net.HttpURLConnection;
import java.util.function.Consumer;
import java.util.function.Predicate;

/** A write through the status subresource: GET, edit, PUT with the resourceVersion read, again on a conflict. */
final class StatusUpdate {

  private static final int ATTEMPTS = 10;

  private StatusUpdate() {
  }

  /** @return false when the object is gone or is not the one meant (e.g. a new pod of the same name) */
  static <T extends HasMetadata> boolean apply(KubernetesClient client, Resource<T> resource, Predicate<T> meant, Consumer<T> edit) {
    for (int attempt = 1; ; attempt++) {
      T latest = resource.get();
      if (latest == null || !meant.test(latest)) {
        return false;
      }
      edit.accept(latest);
      try {
        client.resource(latest).updateStatus();
        return true;
      } catch (KubernetesClientException e) {
        if (e.getCode() != HttpURLConnection.HTTP_CONFLICT || attempt == ATTEMPTS) {
          throw e;
        }
      }
    }
  }
}

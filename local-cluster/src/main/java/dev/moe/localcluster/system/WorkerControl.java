package dev.moe.localcluster.system;

import dev.moe.runtime.tls.ModelTls;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.net.URI;
import java.net.http.HttpClient;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Optional;

/**
 * What it takes to call a model's workers' control API ({@code /stats}, {@code /placement}) as the
 * operator does, read from the model's Secrets: the bearer token, and the model's TLS identity
 * (HTTPS on port 8443; the client trusts the model's CA alone).
 */
public record WorkerControl(String token, ModelTls tls) {

  public static final int PORT = 8443;

  /** From the operator's Secrets {@code <model>-stats-token} and {@code <model>-tls}; empty until both exist. */
  public static Optional<WorkerControl> read(KubernetesClient client, String namespace, String model) {
    Secret token = client.secrets().inNamespace(namespace).withName(model + "-stats-token").get();
    Secret tls = client.secrets().inNamespace(namespace).withName(model + "-tls").get();
    if (token == null || tls == null || token.getData() == null || tls.getData() == null
        || !token.getData().containsKey("token") || !tls.getData().keySet().containsAll(
            java.util.List.of("tls.crt", "tls.key", "ca.crt"))) {
      return Optional.empty();
    }
    return Optional.of(new WorkerControl(value(token, "token").strip(),
        ModelTls.fromPem(value(tls, "tls.crt"), value(tls, "tls.key"), value(tls, "ca.crt"))));
  }

  /** An HTTP client that accepts the model's workers only. */
  public HttpClient httpClient() {
    return HttpClient.newBuilder().sslContext(tls.sslContext()).build();
  }

  /** {@code https://ip:8443/path}. */
  public static URI uri(String ip, String path) {
    return URI.create("https://" + ip + ":" + PORT + path);
  }

  private static String value(Secret secret, String key) {
    return new String(Base64.getDecoder().decode(secret.getData().get(key)), StandardCharsets.US_ASCII);
  }
}

package dev.moe.localcluster.system;

import dev.moe.localcluster.node.ImageTable;
import dev.moe.localcluster.node.ProcessNode;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The system on a local control plane that {@code local-cluster/up.sh} started: the process node
 * (whose pods run as local processes) and the operator, installed by the Helm chart as a user
 * would, running as a pod of that node under the chart's own ServiceAccount and ClusterRole.
 */
public final class LocalSystem implements AutoCloseable {

  public static final String OPERATOR_NAMESPACE = "moe-system";
  public static final String RELEASE = "moe-operator";

  private final KubernetesClient client;
  private final ProcessNode node;

  private LocalSystem(KubernetesClient client, ProcessNode node) {
    this.client = client;
    this.node = node;
  }

  /** Starts the process node, installs the chart and waits until the operator is available. */
  public static LocalSystem start(Path repo, Path kubeconfig, Path stateDir, PrintStream out) {
    return start(repo, kubeconfig, stateDir, out, Map.of());
  }

  /** As {@link #start(Path, Path, Path, PrintStream)}, with these chart values besides install-chart's. */
  public static LocalSystem start(Path repo, Path kubeconfig, Path stateDir, PrintStream out,
      Map<String, String> chartValues) {
    KubernetesClient client;
    try {
      client = new KubernetesClientBuilder().withConfig(Config.fromKubeconfig(Files.readString(kubeconfig))).build();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the kubeconfig " + kubeconfig + " (did local-cluster/up.sh run?)",
          e);
    }
    ProcessNode node = ProcessNode.builder(client, stateDir.resolve("process-node"), ImageTable.repoDefaults(repo))
        .build().start();
    LocalSystem system = new LocalSystem(client, node);
    try {
      out.println("process node " + node.name() + " registered; pods' logs under " + node.stateDir().resolve("pods"));
      installChart(repo, kubeconfig, chartValues);
      system.awaitOperator(Duration.ofMinutes(3));
      return system;
    } catch (RuntimeException e) {
      system.close();
      throw e;
    }
  }

  /** Runs {@code install-chart} in a child JVM (see {@code InstallChartCommand} for why). */
  private static void installChart(Path repo, Path kubeconfig, Map<String, String> values) {
    String java = ProcessHandle.current().info().command().orElse("java");
    String classpath = System.getProperty("java.class.path");
    List<String> command = new ArrayList<>(List.of(java, "--enable-native-access=ALL-UNNAMED", "-cp", classpath,
        "dev.moe.localcluster.cli.LocalClusterCli", "install-chart", "--repo", repo.toString(), "--kubeconfig",
        kubeconfig.toString()));
    values.forEach((key, value) -> command.addAll(List.of("--set", key + "=" + value)));
    try {
      Process p = new ProcessBuilder(command).inheritIO().start();
      if (p.waitFor() != 0) {
        throw new IllegalStateException("helm install of charts/moe-operator failed (exit " + p.exitValue()
            + ", output above)");
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot start " + java + " for helm install", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted during helm install", e);
    }
  }

  public KubernetesClient client() {
    return client;
  }

  public ProcessNode node() {
    return node;
  }

  private void awaitOperator(Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < deadline) {
      Deployment d = client.apps().deployments().inNamespace(OPERATOR_NAMESPACE).withName(RELEASE).get();
      if (d != null && d.getStatus() != null && d.getStatus().getAvailableReplicas() != null
          && d.getStatus().getAvailableReplicas() >= 1) {
        return;
      }
      try {
        Thread.sleep(1000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted while waiting for the operator", e);
      }
    }
    List<Pod> pods = client.pods().inNamespace(OPERATOR_NAMESPACE).list().getItems();
    String why = pods.isEmpty() ? "no operator pod was created"
        : pods.stream().map(p -> p.getMetadata().getName() + " " + p.getStatus().getPhase() + ", log "
            + node.podDir(OPERATOR_NAMESPACE, p.getMetadata().getName())).toList().toString();
    throw new IllegalStateException("the operator was not available within " + timeout.toMinutes() + " min: " + why);
  }

  @Override
  public void close() {
    node.close();
    client.close();
  }
}

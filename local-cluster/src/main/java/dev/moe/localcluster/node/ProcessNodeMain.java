package dev.moe.localcluster.node;

import dev.moe.localcluster.cli.ClusterOptions;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code process-node}: runs a {@link ProcessNode} until Ctrl-C, which stops every process it started. */
@Command(name = "process-node", mixinStandardHelpOptions = true,
    description = "A Kubernetes node whose pods run as local processes, each on its own loopback address (127.10.0.0/16); "
        + "its pods' logs, volumes and hosts file go under <state-dir>/process-node.")
public final class ProcessNodeMain implements Callable<Integer> {

  @Mixin
  ClusterOptions cluster;

  @Option(names = "--node-name", defaultValue = ProcessNode.DEFAULT_NAME, paramLabel = "NAME",
      description = "The Node's name (default: ${DEFAULT-VALUE}).")
  String nodeName;

  @Option(names = "--image", paramLabel = "NAME=COMMAND",
      description = "Runs image NAME (any tag) as COMMAND followed by the container's args; repeatable. "
          + "Defaults: " + ImageTable.WORKER_IMAGE + " and " + ImageTable.OPERATOR_IMAGE + " from the repository's jars.")
  List<String> images = List.of();

  @Option(names = "--capacity", paramLabel = "RESOURCE=QUANTITY",
      description = "Sets a resource of the Node's capacity, e.g. nvidia.com/gpu=8 (default: this machine's cpu and memory, "
          + "pods=110, nvidia.com/gpu=8); repeatable.")
  Map<String, String> capacity = Map.of();

  @Override
  public Integer call() throws Exception {
    Path kubeconfig = cluster.kubeconfig();
    if (!Files.isRegularFile(kubeconfig)) {
      throw new IllegalArgumentException("no kubeconfig at " + kubeconfig + ": start the cluster with local-cluster/up.sh, or pass --kubeconfig");
    }
    ImageTable table = ImageTable.repoDefaults(cluster.repo());
    for (String spec : images) {
      table = table.with(spec);
    }
    for (String image : List.of(ImageTable.WORKER_IMAGE, ImageTable.OPERATOR_IMAGE)) {
      String jar = table.lookup(image).orElseThrow().command().getLast();
      if (jar.endsWith(".jar") && !Files.isRegularFile(Path.of(jar))) {
        System.err.println("warning: " + jar + " is missing, so pods of " + image + " will fail: build it with ./mvnw -B package -DskipTests");
      }
    }
    Config config = Config.fromKubeconfig(Files.readString(kubeconfig));
    try (KubernetesClient client = new KubernetesClientBuilder().withConfig(config).build()) {
      var builder = ProcessNode.builder(client, cluster.stateDir().resolve("process-node"), table).name(nodeName);
      capacity.forEach(builder::capacity);
      try (ProcessNode node = builder.build().start()) {
        System.out.println("process node " + node.name() + " is running against " + config.getMasterUrl()
            + "; pods' logs under " + node.stateDir().resolve("pods") + " (Ctrl-C stops it and every pod process)");
        new CountDownLatch(1).await();
      }
    }
    return 0;
  }
}

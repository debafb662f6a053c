package dev.moe.localcluster.cli;

import com.marcnuri.helm.Helm;
import dev.moe.localcluster.system.LocalSystem;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code install-chart}: {@code helm install} of the repository's chart into the local cluster.
 * Its own process because Helm runs as a Go library in the JVM that loads it, and the Go runtime
 * then takes SIGINT, SIGTERM and SIGQUIT from the JVM: Ctrl-C would no longer stop the demo.
 */
@Command(name = "install-chart", mixinStandardHelpOptions = true,
    description = "Installs charts/moe-operator as release " + LocalSystem.RELEASE + " in namespace "
        + LocalSystem.OPERATOR_NAMESPACE + ", sized for one machine.")
public final class InstallChartCommand implements Callable<Integer> {

  @Mixin ClusterOptions cluster;

  @Option(names = "--set", paramLabel = "KEY=VALUE", description = "A chart value, as helm install --set takes it.")
  Map<String, String> values = new LinkedHashMap<>();

  @Override
  public Integer call() {
    var install = new Helm(cluster.repo().resolve("charts/moe-operator")).install().withName(LocalSystem.RELEASE)
        .withNamespace(LocalSystem.OPERATOR_NAMESPACE).createNamespace().withKubeConfig(cluster.kubeconfig())
        // One machine: the operator asks for little, so the workers fit beside it.
        .set("resources.requests.cpu", "100m").set("resources.requests.memory", "256Mi");
    values.forEach(install::set);
    install.call();
    System.out.println("helm install " + LocalSystem.RELEASE + " charts/moe-operator -n "
        + LocalSystem.OPERATOR_NAMESPACE + ": deployed");
    return 0;
  }
}

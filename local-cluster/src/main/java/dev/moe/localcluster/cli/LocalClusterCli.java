package dev.moe.localcluster.cli;

import dev.moe.localcluster.node.ProcessNodeMain;
import io.fabric8.kubernetes.client.KubernetesClientException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The local cluster's Java side: the process node, the demo and the scale scenario. */
@Command(name = "local-cluster", mixinStandardHelpOptions = true,
    subcommands = {DemoCommand.class, ScaleCommand.class, InstallChartCommand.class, ProcessNodeMain.class},
    description = "Runs moe-operator's system on a local control plane started by local-cluster/up.sh.")
public final class LocalClusterCli {

  public static void main(String[] args) {
    CommandLine cli = new CommandLine(new LocalClusterCli());
    // A user mistake is one line and exit code 2, not a stack trace.
    cli.setExecutionExceptionHandler((e, line, parsed) -> {
      if (e instanceof IllegalArgumentException || e instanceof IllegalStateException
          || e instanceof KubernetesClientException) {
        line.getErr().println("local-cluster: error: " + e.getMessage());
        return 2;
      }
      throw e;
    });
    System.exit(cli.execute(args));
  }
}

package dev.moe.localcluster.cli;

import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** Where the local cluster is: its kubeconfig, its state directory, and the repository it runs. */
public final class ClusterOptions {

  @Option(names = "--kubeconfig", paramLabel = "FILE",
      description = "The local cluster's kubeconfig (default: $MOE_LOCAL_CLUSTER_STATE/kubeconfig, as up.sh writes it).")
  Path kubeconfig;

  @Option(names = "--state-dir", paramLabel = "DIR",
      description = "The cluster's state directory (default: $MOE_LOCAL_CLUSTER_STATE, else "
          + "${XDG_STATE_HOME:-~/.local/state}/moe-operator/local-cluster, as up.sh uses).")
  Path stateDir;

  @Option(names = "--repo", paramLabel = "DIR",
      description = "The repository whose jars and chart run (default: the one this jar was built in).")
  Path repo;

  public Path stateDir() {
    if (stateDir != null) {
      return stateDir;
    }
    String cluster = System.getenv("MOE_LOCAL_CLUSTER_STATE");
    if (cluster != null && !cluster.isEmpty()) {
      return Path.of(cluster);
    }
    String xdg = System.getenv("XDG_STATE_HOME");
    Path base = xdg != null && !xdg.isEmpty() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".local", "state");
    return base.resolve("moe-operator").resolve("local-cluster");
  }

  public Path kubeconfig() {
    return kubeconfig != null ? kubeconfig : stateDir().resolve("kubeconfig");
  }

  /** {@code <repo>/local-cluster/target/<this jar or classes>} -> {@code <repo>}. */
  public Path repo() {
    if (repo != null) {
      return repo;
    }
    try {
      Path location = Path.of(ClusterOptions.class.getProtectionDomain().getCodeSource().getLocation().toURI());
      Path root = location.getParent().getParent().getParent();
      if (Files.isRegularFile(root.resolve("pom.xml")) && Files.isDirectory(root.resolve("worker-runtime"))) {
        return root;
      }
      throw new IllegalArgumentException("cannot tell the repository from " + location + ": pass --repo DIR");
    } catch (URISyntaxException e) {
      throw new IllegalArgumentException("cannot tell the repository: pass --repo DIR", e);
    }
  }
}

package dev.moe.operator.cluster;

import io.fabric8.kubeapitest.KubeAPIServerConfig;
import io.fabric8.kubeapitest.KubeAPIServerConfigBuilder;
import io.fabric8.kubeapitest.binary.BinaryManager;
import io.fabric8.kubeapitest.cert.CertManager;
import io.fabric8.kubeapitest.kubeconfig.KubeConfig;
import io.fabric8.kubeapitest.process.EtcdProcess;
import io.fabric8.kubeapitest.process.KubeAPIServerProcess;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalTime;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A real etcd and kube-apiserver (built by local-cluster/build.sh, found by kube-api-test in
 * offline mode), started once per test JVM with the moe.dev CRDs installed. Clients reach the API
 * server through a {@link TcpForwarder} on a fixed port, so the API server process can be
 * restarted under them (kube-api-test gives a restarted server a new port).
 */
public final class ControlPlane {

  private static ControlPlane shared;

  private final KubeAPIServerConfig config;
  private final BinaryManager binaries;
  private final CertManager certs;
  private final EtcdProcess etcd;
  private final TcpForwarder forwarder;
  private final Path kubeconfig;
  private KubeAPIServerProcess apiServer;
  private int etcdPort;

  private ControlPlane() throws IOException {
    String kubeVersion = System.getProperty("moe.kube.version", "1.34.4");
    config = KubeAPIServerConfigBuilder.anAPIServerConfig()
        .withOfflineMode(true)
        .withApiServerVersion(kubeVersion)
        .withUpdateKubeConfig(false)
        .withStartupTimeout(120_000)
        .build();
    binaries = new BinaryManager(config);
    certs = new CertManager(config.getKubeAPITestDir());
    etcd = new EtcdProcess(binaries, p -> {}, true, config.getStartupTimeout());
    try {
      binaries.initAndDownloadIfRequired();
    } catch (RuntimeException e) {
      throw new IllegalStateException("no kube-apiserver " + kubeVersion + " under " + config.getKubeAPITestDir()
          + "/k8s: run local-cluster/build.sh first (it builds them from the upstream Go modules)", e);
    }
    certs.createCertificatesIfNeeded();
    notAcrossMidnight();
    forwarder = new TcpForwarder();
    try {
      etcdPort = etcd.startEtcd();
      startApiServer();
    } catch (RuntimeException e) {
      // Nothing left running when the start fails: the next test class tries again from scratch.
      stop();
      throw e;
    }
    kubeconfig = Files.createTempFile("moe-operator-test", ".kubeconfig");
    Files.writeString(kubeconfig, new KubeConfig(certs, binaries).generateKubeConfigYaml(forwarder.port()));
    installCrds();
    Runtime.getRuntime().addShutdownHook(new Thread(this::stop));
  }

  /** The control plane of this test JVM, started on first use. */
  public static synchronized ControlPlane get() {
    if (shared == null) {
      try {
        shared = new ControlPlane();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    return shared;
  }

  /**
   * kube-api-test's readiness waits compare times of day ({@code LocalTime}): a wait whose timeout
   * ends after midnight fails at once ("did not start properly"). Such a start waits for midnight.
   */
  private void notAcrossMidnight() {
    LocalTime now = LocalTime.now();
    if (now.plus(Duration.ofMillis(config.getStartupTimeout())).isBefore(now)) {
      try {
        Thread.sleep(Duration.between(now, LocalTime.MAX).plusSeconds(1));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted while waiting for midnight", e);
      }
    }
  }

  private void startApiServer() {
    notAcrossMidnight();
    apiServer = new KubeAPIServerProcess(certs, binaries, p -> {}, config);
    int port = apiServer.startApiServer(etcdPort);
    forwarder.target(port);
    apiServer.waitUntilReady();
  }

  /** Kills the kube-apiserver process and starts a new one on the same etcd; clients keep working. */
  public synchronized void restartApiServer() {
    apiServer.stopApiServer();
    forwarder.dropConnections();
    startApiServer();
  }

  /** A client with cluster-admin rights (kube-api-test's system:masters certificate). */
  public KubernetesClient adminClient() {
    return new KubernetesClientBuilder().withConfig(adminConfig()).build();
  }

  public Config adminConfig() {
    return Config.fromKubeconfig(read(kubeconfig));
  }

  /** A client that authenticates with a bearer token (a ServiceAccount's), nothing else. */
  public KubernetesClient tokenClient(String token) {
    Config admin = adminConfig();
    Config config = new io.fabric8.kubernetes.client.ConfigBuilder()
        .withMasterUrl(admin.getMasterUrl())
        .withCaCertData(admin.getCaCertData())
        .withCaCertFile(admin.getCaCertFile())
        .withOauthToken(token)
        .build();
    return new KubernetesClientBuilder().withConfig(config).build();
  }

  public Path kubeconfig() {
    return kubeconfig;
  }

  /** Runs the kubectl built with the API server, against it; stdout and stderr are kept apart. */
  public Kubectl.Result kubectl(String stdin, String... args) {
    return Kubectl.run(binaries.binaries().getKubectl().toPath(), kubeconfig, stdin, args);
  }

  /** Applies the CRDs of crds/generated and waits until they are Established (again, after a test removed them). */
  public void installCrds() {
    try (KubernetesClient client = adminClient()) {
      for (Path file : crdFiles()) {
        CustomResourceDefinition crd = client.getKubernetesSerialization()
            .unmarshal(Files.readString(file), CustomResourceDefinition.class);
        client.apiextensions().v1().customResourceDefinitions().resource(crd).forceConflicts().serverSideApply();
        client.apiextensions().v1().customResourceDefinitions().withName(crd.getMetadata().getName())
            .waitUntilCondition(c -> c.getStatus() != null && c.getStatus().getConditions() != null && c.getStatus().getConditions().stream()
                .anyMatch(x -> "Established".equals(x.getType()) && "True".equals(x.getStatus())),
                60, TimeUnit.SECONDS);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The committed CRD YAML of crds/generated. */
  public static List<Path> crdFiles() throws IOException {
    Path dir = repoRoot().resolve("crds").resolve("generated");
    List<Path> files = new ArrayList<>();
    try (var s = Files.list(dir)) {
      s.filter(p -> p.toString().endsWith(".yml")).sorted().forEach(files::add);
    }
    return files;
  }

  public static Path repoRoot() {
    String root = System.getProperty("moe.repo.root");
    return root == null ? Path.of("..").toAbsolutePath().normalize() : Path.of(root);
  }

  private static String read(Path file) {
    try {
      return Files.readString(file, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private void stop() {
    if (apiServer != null) {
      apiServer.stopApiServer();
    }
    etcd.stopEtcd();
    etcd.cleanEtcdData();
    forwarder.close();
  }
}

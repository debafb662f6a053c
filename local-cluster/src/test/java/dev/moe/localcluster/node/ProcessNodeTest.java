package dev.moe.localcluster.node;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubeapitest.KubeAPIServer;
import io.fabric8.kubeapitest.KubeAPIServerConfig;
import io.fabric8.kubeapitest.KubeAPIServerConfigBuilder;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerBuilder;
import io.fabric8.kubernetes.api.model.ContainerStateTerminated;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.PersistentVolumeBuilder;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaimBuilder;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaimStatusBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.api.model.ServiceAccountBuilder;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalTime;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;
import org.awaitility.core.ConditionTimeoutException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The process node against a real kube-apiserver (kube-api-test, offline: the binaries that
 * local-cluster/build.sh installs). There is no scheduler, so each test binds its pods itself
 * (spec.nodeName). The pods run {@link PodProgram} (image test.local/java) or a shell.
 */
class ProcessNodeTest {

  private static final String NS = "node-test";
  private static final String JAVA_IMAGE = "test.local/java:1";
  private static final String SH_IMAGE = "test.local/sh";
  private static final Duration TIMEOUT = Duration.ofSeconds(60);

  private static KubeAPIServer apiServer;
  private static KubernetesClient client;
  private static ProcessNode node;
  private static ImageTable images;

  @TempDir
  static Path state;

  @BeforeAll
  static void startNode() throws InterruptedException {
    KubeAPIServerConfig config = KubeAPIServerConfigBuilder.anAPIServerConfig()
        .withOfflineMode(true)
        .withApiServerVersion(System.getProperty("moe.kube.version", "1.34.4"))
        .withUpdateKubeConfig(false)
        .build();
    // kube-api-test's readiness waits (etcd's, then the API server's) compare times of day: one whose
    // timeout ends after midnight fails at once. Such a start waits for midnight.
    LocalTime now = LocalTime.now();
    if (now.plus(Duration.ofMillis(2L * config.getStartupTimeout())).isBefore(now)) {
      Thread.sleep(Duration.between(now, LocalTime.MAX).plusSeconds(1));
    }
    apiServer = new KubeAPIServer(config);
    apiServer.start();
    client = new KubernetesClientBuilder().withConfig(Config.fromKubeconfig(apiServer.getKubeConfigYaml())).build();
    client.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(NS).endMetadata().build()).create();
    // No controller-manager here to make it; the node requests the pods' tokens for it.
    client.serviceAccounts().inNamespace(NS).resource(new ServiceAccountBuilder().withNewMetadata().withName("default").endMetadata().build()).create();
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    images = new ImageTable(Map.of(
        "test.local/java", ImageTable.Entry.of(List.of(java, "-cp", System.getProperty("java.class.path"), PodProgram.class.getName())),
        "test.local/sh", ImageTable.Entry.of(List.of("/bin/sh", "-c"))));
    node = ProcessNode.builder(client, state.resolve("node"), images).leaseRenewal(Duration.ofSeconds(1)).build().start();
  }

  @AfterAll
  static void stop() {
    if (node != null) {
      node.close();
    }
    if (client != null) {
      client.close();
    }
    if (apiServer != null) {
      apiServer.stop();
    }
  }

  @Test
  void podRunsOnALoopbackIpOfItsOwn() throws Exception {
    create(pod("plain", JAVA_IMAGE, "serve", "0.0.0.0:8080").build());
    Pod pod = awaitPod("plain", p -> ready(p));
    String ip = pod.getStatus().getPodIP();
    assertTrue(ip.matches("127\\.10\\.\\d+\\.\\d+"), ip);
    assertEquals(ip, pod.getStatus().getPodIPs().getFirst().getIp());
    assertEquals("127.0.0.1", pod.getStatus().getHostIP());
    assertEquals("Running", pod.getStatus().getPhase());
    var container = pod.getStatus().getContainerStatuses().getFirst();
    assertTrue(container.getStarted());
    assertTrue(container.getState().getRunning() != null);
    assertTrue(container.getContainerID().startsWith("process://"));
    // Listening on "0.0.0.0" inside the pod means listening on the pod IP (no readiness probe: the
    // pod is Ready as soon as its process starts, maybe before it listens).
    await().atMost(TIMEOUT).ignoreExceptions().until(() -> httpGet(ip, 8080).equals(ip));
  }

  @Test
  void aServicesNameReachesItsReadyEndpointsInTurn() throws Exception {
    for (String name : List.of("backend-a", "backend-b")) {
      create(pod(name, JAVA_IMAGE, "serve", "0.0.0.0:8080").editMetadata().withLabels(Map.of("app", "backend"))
          .endMetadata().editSpec().editFirstContainer().addNewPort().withName("web").withContainerPort(8080).endPort()
          .endContainer().endSpec().build());
    }
    // Selected but never ready: never handed a connection.
    create(pod("backend-never", JAVA_IMAGE, "serve", "0.0.0.0:8080").editMetadata()
        .withLabels(Map.of("app", "backend")).endMetadata().editSpec().editFirstContainer()
        .addNewPort().withName("web").withContainerPort(8080).endPort().withNewReadinessProbe().withNewHttpGet().withPath("/").withPort(new IntOrString(9)).endHttpGet()
        .withPeriodSeconds(1).endReadinessProbe().endContainer().endSpec().build());
    List<String> ips = List.of(awaitPod("backend-a", p -> ready(p)).getStatus().getPodIP(),
        awaitPod("backend-b", p -> ready(p)).getStatus().getPodIP());
    client.services().inNamespace(NS).resource(new ServiceBuilder().withNewMetadata().withName("backend").endMetadata()
        .withNewSpec().withSelector(Map.of("app", "backend"))
        .addNewPort().withName("http").withPort(80).withTargetPort(new IntOrString("web")).endPort().endSpec().build())
        .create();
    String service = await().atMost(TIMEOUT).until(() -> node.resolveService("backend." + NS + ".svc.cluster.local")
        .orElse(null), ip -> ip != null);
    assertTrue(service.matches("127\\.11\\.\\d+\\.\\d+"), service);
    assertTrue(Files.readString(node.hostsFile()).contains(service + " backend." + NS + ".svc"));
    // One connection per request, so each is a new turn of the round robin over the two ready pods.
    await().atMost(TIMEOUT).ignoreExceptions().until(() -> httpGet(service, 80).startsWith("127.10."));
    List<String> answers = new ArrayList<>();
    for (int i = 0; i < 6; i++) {
      answers.add(httpGet(service, 80));
    }
    assertEquals(Set.copyOf(ips), Set.copyOf(answers), answers.toString());
    client.services().inNamespace(NS).withName("backend").delete();
    await().atMost(TIMEOUT).until(() -> node.resolveService("backend." + NS + ".svc").isEmpty());
  }

  @Test
  void readyFollowsTheReadinessProbe() throws Exception {
    create(pod("slow", JAVA_IMAGE, "serve", "0.0.0.0:8080", "4000")
        .editSpec().editFirstContainer()
        .addNewPort().withName("http").withContainerPort(8080).endPort()
        .withNewReadinessProbe().withNewHttpGet().withPath("/readyz").withPort(new IntOrString("http")).endHttpGet()
        .withPeriodSeconds(1).endReadinessProbe()
        .endContainer().endSpec().build());
    Pod running = awaitPod("slow", p -> "Running".equals(p.getStatus().getPhase()));
    assertFalse(ready(running), "ready before the server listens");
    assertFalse(client.pods().inNamespace(NS).withName("slow").get().getStatus().getContainerStatuses().getFirst().getReady());
    Pod ready = awaitPod("slow", ProcessNodeTest::ready);
    assertEquals(ready.getStatus().getPodIP(), httpGet(ready.getStatus().getPodIP(), 8080));
  }

  @Test
  void execReadinessProbeRunsWithThePodsPaths(@TempDir Path data) throws IOException {
    create(pod("exec-probe", JAVA_IMAGE, "serve", "0.0.0.0:8080")
        .editSpec()
        .addNewVolume().withName("data").withNewHostPath().withPath(data.toString()).endHostPath().endVolume()
        .editFirstContainer()
        .addNewVolumeMount().withName("data").withMountPath("/data").endVolumeMount()
        .withNewReadinessProbe().withNewExec().withCommand("cat", "/data/ready").endExec().withPeriodSeconds(1).endReadinessProbe()
        .endContainer().endSpec().build());
    awaitPod("exec-probe", p -> "Running".equals(p.getStatus().getPhase()));
    assertFalse(ready(client.pods().inNamespace(NS).withName("exec-probe").get()));
    Files.writeString(data.resolve("ready"), "yes");
    awaitPod("exec-probe", ProcessNodeTest::ready);
  }

  @Test
  void exitCodeEndsThePod() {
    create(pod("exit3", SH_IMAGE, "exit 3").build());
    create(pod("exit0", SH_IMAGE, "exit 0").build());
    Pod failed = awaitPod("exit3", p -> "Failed".equals(p.getStatus().getPhase()));
    ContainerStateTerminated terminated = failed.getStatus().getContainerStatuses().getFirst().getState().getTerminated();
    assertEquals(3, terminated.getExitCode());
    assertEquals("Error", terminated.getReason());
    assertFalse(ready(failed));
    Pod succeeded = awaitPod("exit0", p -> "Succeeded".equals(p.getStatus().getPhase()));
    assertEquals("Completed", succeeded.getStatus().getContainerStatuses().getFirst().getState().getTerminated().getReason());
  }

  @Test
  void initContainersRunInOrderToTheirEndBeforeTheMainContainer() {
    // Each script gets the file's path as $1, a word of its own, so the node points it at the emptyDir.
    create(pod("init-ok", SH_IMAGE, "test \"$(cat \"$1\")\" = ab", "sh", "/data/order").editSpec()
        .addNewVolume().withName("data").withNewEmptyDir().endEmptyDir().endVolume()
        .addToInitContainers(shell("a", "printf a > \"$1\"", "sh", "/data/order"),
            shell("b", "printf b >> \"$1\"", "sh", "/data/order"))
        .editFirstContainer().addNewVolumeMount().withName("data").withMountPath("/data").endVolumeMount().endContainer()
        .endSpec().build());

    Pod pod = awaitPod("init-ok", p -> "Succeeded".equals(p.getStatus().getPhase()));

    assertEquals(List.of("a", "b"), pod.getStatus().getInitContainerStatuses().stream().map(c -> c.getName()).toList());
    for (var init : pod.getStatus().getInitContainerStatuses()) {
      assertEquals(0, init.getState().getTerminated().getExitCode());
      assertEquals("Completed", init.getState().getTerminated().getReason());
    }
    assertTrue(pod.getStatus().getConditions().stream().anyMatch(c -> c.getType().equals("Initialized")
        && c.getStatus().equals("True")));
  }

  @Test
  void aFailingInitContainerBacksOffWithItsLogTailOrWithRestartPolicyNeverFailsThePod() {
    Container fails = shell("fetch", "echo fetching; echo 's3://bucket/model: access denied' >&2; exit 4");
    fails.setTerminationMessagePolicy("FallbackToLogsOnError");
    for (String policy : List.of("Always", "Never")) {
      create(pod("init-fails-" + policy.toLowerCase(), SH_IMAGE, "exit 0").editSpec().withRestartPolicy(policy)
          .addNewVolume().withName("data").withNewEmptyDir().endEmptyDir().endVolume()
          .addToInitContainers(fails, shell("after", "exit 0")).endSpec().build());
    }

    // As a kubelet: the pod stays Pending, the container waits to run again, its last exit kept.
    Pod retried = awaitPod("init-fails-always", p -> p.getStatus().getInitContainerStatuses() != null
        && p.getStatus().getInitContainerStatuses().getFirst().getLastState() != null
        && p.getStatus().getInitContainerStatuses().getFirst().getLastState().getTerminated() != null);
    assertEquals("Pending", retried.getStatus().getPhase());
    var status = retried.getStatus().getInitContainerStatuses().getFirst();
    assertEquals("CrashLoopBackOff", status.getState().getWaiting().getReason());
    assertEquals(4, status.getLastState().getTerminated().getExitCode());
    assertEquals("fetching\ns3://bucket/model: access denied", status.getLastState().getTerminated().getMessage());
    assertEquals(1, retried.getStatus().getInitContainerStatuses().size(), "the next init container has not started");

    Pod failed = awaitPod("init-fails-never", p -> "Failed".equals(p.getStatus().getPhase()));
    ContainerStateTerminated fetch = failed.getStatus().getInitContainerStatuses().getFirst().getState().getTerminated();
    assertEquals(4, fetch.getExitCode());
    assertEquals("fetching\ns3://bucket/model: access denied", fetch.getMessage());
    assertEquals("InitContainerFailed", failed.getStatus().getReason());
    assertEquals("init container fetch exited with 4: fetching\ns3://bucket/model: access denied",
        failed.getStatus().getMessage());
    assertNull(failed.getStatus().getContainerStatuses().getFirst().getState().getTerminated(),
        "the main container never ran");
    assertTrue(failed.getStatus().getConditions().stream().anyMatch(c -> c.getType().equals("Initialized")
        && c.getStatus().equals("False")));
  }

  private static Container shell(String name, String... args) {
    return new ContainerBuilder().withName(name).withImage(SH_IMAGE).withArgs(args).addNewVolumeMount().withName("data")
        .withMountPath("/data").endVolumeMount().build();
  }

  @Test
  void deletionSendsSigtermThenRemovesThePod(@TempDir Path marker) throws IOException {
    create(pod("term", JAVA_IMAGE, "term", "/marker/term")
        .editSpec().withTerminationGracePeriodSeconds(30L)
        .addNewVolume().withName("marker").withNewHostPath().withPath(marker.toString()).endHostPath().endVolume()
        .editFirstContainer().addNewVolumeMount().withName("marker").withMountPath("/marker").endVolumeMount().endContainer()
        .endSpec().build());
    Pod pod = awaitPod("term", ProcessNodeTest::ready);
    await().atMost(TIMEOUT).until(() -> log("term").contains("waiting for SIGTERM"));
    long pid = Long.parseLong(pod.getStatus().getContainerStatuses().getFirst().getContainerID().substring("process://".length()));
    long start = System.nanoTime();
    client.pods().inNamespace(NS).withName("term").delete();
    await().atMost(TIMEOUT).until(() -> client.pods().inNamespace(NS).withName("term").get() == null);
    // Well inside the 30 s grace period: the process ended on SIGTERM, not SIGKILL.
    assertTrue(Duration.ofNanos(System.nanoTime() - start).toSeconds() < 20);
    assertEquals("TERM", Files.readString(marker.resolve("term")));
    assertFalse(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false));
  }

  @Test
  void argsAndEnvSeeVolumesAtTheirHostPathsAndThePodIp(@TempDir Path pvDir) throws IOException {
    Files.writeString(pvDir.resolve("weights.bin"), "W");
    client.secrets().inNamespace(NS).resource(new SecretBuilder().withNewMetadata().withName("creds").endMetadata()
        .addToStringData("token", "s3cret").build()).create();
    client.configMaps().inNamespace(NS).resource(new ConfigMapBuilder().withNewMetadata().withName("conf").endMetadata()
        .addToData("mode", "fast").build()).create();
    client.persistentVolumes().resource(new PersistentVolumeBuilder().withNewMetadata().withName("weights-pv").endMetadata()
        .withNewSpec().withCapacity(Map.of("storage", new Quantity("1Gi"))).withAccessModes("ReadOnlyMany")
        .withNewHostPath().withPath(pvDir.toString()).endHostPath().endSpec().build()).create();
    client.persistentVolumeClaims().inNamespace(NS).resource(new PersistentVolumeClaimBuilder()
        .withNewMetadata().withName("weights").endMetadata()
        .withNewSpec().withVolumeName("weights-pv").withAccessModes("ReadOnlyMany")
        .withNewResources().addToRequests("storage", new Quantity("1Gi")).endResources().endSpec().build()).create();
    create(pod("mounts", JAVA_IMAGE, "print", "--token=/etc/creds/token", "--mode=/etc/conf/mode",
        "--checkpoint=/weights/weights.bin", "--listen=0.0.0.0:7070", "--name=$(POD_NAME)", "$$(POD_NAME)")
        .editMetadata().addToLabels("apps.kubernetes.io/pod-index", "3").endMetadata()
        .editSpec()
        .addNewVolume().withName("creds").withNewSecret().withSecretName("creds").endSecret().endVolume()
        .addNewVolume().withName("conf").withNewConfigMap().withName("conf").endConfigMap().endVolume()
        .addNewVolume().withName("weights").withNewPersistentVolumeClaim().withClaimName("weights").endPersistentVolumeClaim().endVolume()
        .editFirstContainer()
        .addNewVolumeMount().withName("creds").withMountPath("/etc/creds").endVolumeMount()
        .addNewVolumeMount().withName("conf").withMountPath("/etc/conf/").endVolumeMount()
        .addNewVolumeMount().withName("weights").withMountPath("/weights").endVolumeMount()
        .addNewEnv().withName("POD_NAME").withNewValueFrom().withNewFieldRef().withFieldPath("metadata.name").endFieldRef().endValueFrom().endEnv()
        .addNewEnv().withName("POD_INDEX").withNewValueFrom().withNewFieldRef()
        .withFieldPath("metadata.labels['apps.kubernetes.io/pod-index']").endFieldRef().endValueFrom().endEnv()
        .addNewEnv().withName("POD_IP").withNewValueFrom().withNewFieldRef().withFieldPath("status.podIP").endFieldRef().endValueFrom().endEnv()
        .addNewEnv().withName("SECRET").withNewValueFrom().withNewSecretKeyRef("token", "creds", false).endValueFrom().endEnv()
        .addNewEnv().withName("MODE").withNewValueFrom().withNewConfigMapKeyRef("mode", "conf", false).endValueFrom().endEnv()
        .addNewEnv().withName("CONF_DIR").withValue("/etc/conf").endEnv()
        .addNewEnv().withName("PEER").withValue("$(POD_NAME).peers:0.0.0.0").endEnv()
        .endContainer().endSpec().build());

    Pod waiting = awaitPod("mounts", p -> p.getStatus() != null && p.getStatus().getContainerStatuses() != null
        && p.getStatus().getContainerStatuses().getFirst().getState().getWaiting() != null
        && String.valueOf(p.getStatus().getContainerStatuses().getFirst().getState().getWaiting().getMessage()).contains("is not bound"));
    assertEquals("Pending", waiting.getStatus().getPhase());
    client.persistentVolumeClaims().inNamespace(NS).withName("weights").editStatus(pvc -> {
      pvc.setStatus(new PersistentVolumeClaimStatusBuilder().withPhase("Bound").build());
      return pvc;
    });

    Pod done = awaitPod("mounts", p -> "Succeeded".equals(p.getStatus().getPhase()));
    String ip = done.getStatus().getPodIP();
    Path volumes = node.podDir(NS, "mounts").resolve("volumes");
    String log = log("mounts");
    assertTrue(log.contains("file " + volumes.resolve("creds/token") + " = s3cret"), log);
    assertTrue(log.contains("file " + volumes.resolve("conf/mode") + " = fast"), log);
    assertTrue(log.contains("file " + pvDir.resolve("weights.bin") + " = W"), log);
    assertTrue(log.contains("arg --listen=" + ip + ":7070"), log);
    assertTrue(log.contains("arg --name=mounts\n"), log);
    assertTrue(log.contains("arg $(POD_NAME)\n"), log);
    assertTrue(log.contains("env POD_INDEX=3\n"), log);
    assertTrue(log.contains("env POD_IP=" + ip + "\n"), log);
    assertTrue(log.contains("env SECRET=s3cret\n"), log);
    assertTrue(log.contains("env MODE=fast\n"), log);
    assertTrue(log.contains("env CONF_DIR=" + volumes.resolve("conf") + "\n"), log);
    assertTrue(log.contains("env PEER=mounts.peers:" + ip + "\n"), log);
    assertTrue(log.contains("env KUBECONFIG=" + node.podDir(NS, "mounts").resolve("kubeconfig") + "\n"), log);
    assertFalse(log.contains("env JAVA_HOME="), "the node's own environment leaked into the pod: " + log);
  }

  @Test
  void podsListenOnTheSamePortEachOnItsIp() throws Exception {
    create(pod("twin-a", JAVA_IMAGE, "serve", "0.0.0.0:9090").build());
    create(pod("twin-b", JAVA_IMAGE, "serve", "0.0.0.0:9090").build());
    String a = awaitPod("twin-a", ProcessNodeTest::ready).getStatus().getPodIP();
    String b = awaitPod("twin-b", ProcessNodeTest::ready).getStatus().getPodIP();
    assertNotEquals(a, b);
    await().atMost(TIMEOUT).ignoreExceptions().until(() -> httpGet(a, 9090).equals(a) && httpGet(b, 9090).equals(b));
    assertEquals("Running", client.pods().inNamespace(NS).withName("twin-a").get().getStatus().getPhase());
    assertEquals("Running", client.pods().inNamespace(NS).withName("twin-b").get().getStatus().getPhase());
  }

  @Test
  void statefulSetPodNamesResolveInOtherPods() {
    String name = "w-0.w." + NS + ".svc";
    // The client asks before the peer exists: its miss must not be cached (the JDK's default is 10 s).
    create(pod("resolver", JAVA_IMAGE, "resolve", name + "," + name + ".cluster.local", "8000").build());
    awaitPod("resolver", p -> "Running".equals(p.getStatus().getPhase()));
    await().atMost(TIMEOUT).until(() -> log("resolver").contains("not yet " + name));
    create(pod("w-0", JAVA_IMAGE, "serve", "0.0.0.0:8080").editSpec().withHostname("w-0").withSubdomain("w").endSpec().build());
    String peerIp = awaitPod("w-0", ProcessNodeTest::ready).getStatus().getPodIP();
    Pod resolver = awaitPod("resolver", p -> List.of("Succeeded", "Failed").contains(p.getStatus().getPhase()));
    String log = log("resolver");
    assertEquals("Succeeded", resolver.getStatus().getPhase(), log);
    assertTrue(log.contains("resolved " + name + " to " + peerIp), log);
    assertTrue(log.contains("resolved " + name + ".cluster.local to " + peerIp), log);
  }

  @Test
  void unknownImageFailsThePodWithAClearMessage() {
    create(pod("unknown", "example.com/nope:1").build());
    Pod pod = awaitPod("unknown", p -> "Failed".equals(p.getStatus().getPhase()));
    assertEquals("ErrImagePull", pod.getStatus().getReason());
    assertEquals("image example.com/nope:1 is not runnable on this process node (known: test.local/java, test.local/sh)",
        pod.getStatus().getMessage());
  }

  @Test
  void livenessProbeFailuresKillTheProcess() {
    create(pod("unhealthy", JAVA_IMAGE, "serve", "0.0.0.0:8080")
        .editSpec().withTerminationGracePeriodSeconds(5L).editFirstContainer()
        .withNewLivenessProbe().withNewTcpSocket().withPort(new IntOrString(8081)).endTcpSocket()
        .withPeriodSeconds(1).withFailureThreshold(2).endLivenessProbe()
        .endContainer().endSpec().build());
    Pod pod = awaitPod("unhealthy", p -> "Failed".equals(p.getStatus().getPhase()));
    assertTrue(pod.getStatus().getMessage().contains("Liveness probe failed"), pod.getStatus().getMessage());
    assertNotEquals(0, pod.getStatus().getContainerStatuses().getFirst().getState().getTerminated().getExitCode());
  }

  @Test
  void podGetsAKubeconfigOfItsServiceAccount() {
    create(pod("whoami", JAVA_IMAGE, "whoami").build());
    Pod pod = awaitPod("whoami", p -> List.of("Succeeded", "Failed").contains(p.getStatus().getPhase()));
    String log = log("whoami");
    assertEquals("Succeeded", pod.getStatus().getPhase(), log);
    assertTrue(log.contains("user system:serviceaccount:" + NS + ":default"), log);
  }

  @Test
  void nodeIsRegisteredAndRenewsItsLease() {
    Node registered = client.nodes().withName(ProcessNode.DEFAULT_NAME).get();
    assertEquals("true", registered.getMetadata().getLabels().get("moe.dev/process-node"));
    assertEquals("true", registered.getMetadata().getLabels().get("nvidia.com/gpu.present"));
    assertEquals(ProcessNode.DEFAULT_NAME, registered.getMetadata().getLabels().get("kubernetes.io/hostname"));
    assertEquals(new Quantity("8"), registered.getStatus().getCapacity().get("nvidia.com/gpu"));
    assertEquals(new Quantity("8"), registered.getStatus().getAllocatable().get("nvidia.com/gpu"));
    assertEquals("127.0.0.1", registered.getStatus().getAddresses().getFirst().getAddress());
    assertTrue(registered.getStatus().getConditions().stream().anyMatch(c -> c.getType().equals("Ready") && c.getStatus().equals("True")));
    ZonedDateTime first = leaseRenewTime();
    await().atMost(TIMEOUT).until(() -> leaseRenewTime().isAfter(first));
  }

  @Test
  void closingTheNodeStopsItsProcessesAndFailsItsPods(@TempDir Path other) {
    ProcessNode second = ProcessNode.builder(client, other, images).name("moe-second").capacity("nvidia.com/gpu", "2").build().start();
    try {
      create(pod("on-second", JAVA_IMAGE, "term", other.resolve("marker").toString()).editSpec().withNodeName("moe-second").endSpec().build());
      Pod pod = awaitPod("on-second", ProcessNodeTest::ready);
      await().atMost(TIMEOUT).until(() -> Files.exists(second.podDir(NS, "on-second").resolve("main.log"))
          && Files.readString(second.podDir(NS, "on-second").resolve("main.log")).contains("waiting for SIGTERM"));
      long pid = Long.parseLong(pod.getStatus().getContainerStatuses().getFirst().getContainerID().substring("process://".length()));
      assertEquals(new Quantity("2"), client.nodes().withName("moe-second").get().getStatus().getCapacity().get("nvidia.com/gpu"));
      second.close();
      assertFalse(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false));
      Pod stopped = client.pods().inNamespace(NS).withName("on-second").get();
      assertEquals("Failed", stopped.getStatus().getPhase());
      assertEquals("Terminated", stopped.getStatus().getReason());
      assertTrue(Files.exists(other.resolve("marker")), "SIGTERM before SIGKILL");
      assertTrue(client.nodes().withName("moe-second").get().getStatus().getConditions().stream()
          .anyMatch(c -> c.getType().equals("Ready") && c.getStatus().equals("False")));
    } finally {
      second.close();
    }
  }

  private static PodBuilder pod(String name, String image, String... args) {
    return new PodBuilder()
        .withNewMetadata().withName(name).withNamespace(NS).endMetadata()
        // As the ServiceAccount admission plugin (off in kube-api-test) would set it.
        .withNewSpec().withNodeName(ProcessNode.DEFAULT_NAME).withServiceAccountName("default").withTerminationGracePeriodSeconds(5L)
        .addNewContainer().withName("main").withImage(image).withArgs(args).endContainer()
        .endSpec();
  }

  private static void create(Pod pod) {
    client.pods().inNamespace(NS).resource(pod).create();
  }

  private static Pod awaitPod(String name, Predicate<Pod> condition) {
    Pod[] seen = new Pod[1];
    try {
      await().atMost(TIMEOUT).pollInterval(Duration.ofMillis(100)).until(() -> {
        seen[0] = client.pods().inNamespace(NS).withName(name).get();
        return seen[0] != null && seen[0].getStatus() != null && seen[0].getStatus().getPhase() != null && condition.test(seen[0]);
      });
    } catch (ConditionTimeoutException e) {
      throw new AssertionError("pod " + name + " never got there; its status: "
          + (seen[0] == null ? "(no pod)" : client.getKubernetesSerialization().asYaml(seen[0].getStatus())) + "log: " + log(name), e);
    }
    return seen[0];
  }

  private static boolean ready(Pod pod) {
    return pod.getStatus().getConditions() != null && pod.getStatus().getConditions().stream()
        .anyMatch(c -> c.getType().equals("Ready") && c.getStatus().equals("True"));
  }

  private static String log(String pod) {
    Path file = node.podDir(NS, pod).resolve("main.log");
    try {
      return Files.exists(file) ? Files.readString(file) : "";
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static ZonedDateTime leaseRenewTime() {
    return client.leases().inNamespace("kube-node-lease").withName(ProcessNode.DEFAULT_NAME).get().getSpec().getRenewTime();
  }

  private static String httpGet(String ip, int port) throws IOException, InterruptedException {
    try (HttpClient http = HttpClient.newHttpClient()) {
      return http.send(HttpRequest.newBuilder(URI.create("http://" + ip + ":" + port + "/")).build(),
          HttpResponse.BodyHandlers.ofString()).body();
    }
  }
}

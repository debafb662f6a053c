package dev.moe.localcluster.node;

import io.fabric8.kubernetes.api.model.ConfigBuilder;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.DownwardAPIVolumeFile;
import io.fabric8.kubernetes.api.model.EnvFromSource;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.EnvVarSource;
import io.fabric8.kubernetes.api.model.KeyToPath;
import io.fabric8.kubernetes.api.model.PersistentVolume;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.ServiceAccountTokenProjection;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.VolumeProjection;
import io.fabric8.kubernetes.api.model.VolumeProjectionBuilder;
import io.fabric8.kubernetes.api.model.authentication.TokenRequestBuilder;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Turns a pod into what its local process needs, as a kubelet and container runtime would: the
 * command line, the environment, and host directories for its volumes. The pod's init containers
 * run first, each to its end; then the pod's first container is the one that runs.
 */
final class Launcher {

  /** How long a ServiceAccount token the node requests for a pod lives; refreshed well before. */
  static final long TOKEN_SECONDS = 3600;

  /** What starting a pod's container takes. */
  record LaunchSpec(List<String> command, Map<String, String> env, Path workDir, Path logFile, Localizer localizer) {
    /** A command in the pod's environment and directory (nothing of the node's own environment), stderr into stdout. */
    ProcessBuilder processBuilder(List<String> words) {
      var builder = new ProcessBuilder(words).directory(workDir.toFile()).redirectErrorStream(true);
      builder.environment().clear();
      builder.environment().putAll(env);
      return builder;
    }
  }

  /**
   * A container sees its volumes at their mount paths and has a network namespace of its own; a
   * local process has neither. So a word (or the value of a {@code --flag=VALUE} word) that starts
   * with a mount path is pointed at the volume's host directory (longest mount path first), and
   * {@code 0.0.0.0} becomes the pod IP, the only address that a pod's "all interfaces" reaches.
   */
  record Localizer(String podIp, List<Map.Entry<String, Path>> mounts) {
    String apply(String word) {
      String s = word.replace("0.0.0.0", podIp);
      int eq = s.indexOf('=');
      String head = s.substring(0, eq + 1);
      String value = s.substring(eq + 1);
      for (var mount : mounts) {
        if (value.equals(mount.getKey()) || value.startsWith(mount.getKey() + "/")) {
          return head + mount.getValue() + value.substring(mount.getKey().length());
        }
      }
      return s;
    }

    List<String> apply(List<String> words) {
      return words.stream().map(this::apply).toList();
    }
  }

  /**
   * Why a pod's container cannot start. {@code retryable}: it may later (a Secret or PVC is
   * missing: the kubelet keeps such a pod Pending and retries); otherwise the pod fails.
   */
  static final class StartFailure extends Exception {
    private static final long serialVersionUID = 1L;
    final String reason;
    final boolean retryable;

    StartFailure(String reason, boolean retryable, String message) {
      super(message);
      this.reason = reason;
      this.retryable = retryable;
    }
  }

  private static final Pattern KEYED_FIELD = Pattern.compile("metadata\\.(labels|annotations)\\['(.*)'\\]");

  private final KubernetesClient client;
  private final ImageTable images;
  private final HostsFile hosts;
  private final Path podsDir;
  private final String nodeIp;

  Launcher(KubernetesClient client, ImageTable images, HostsFile hosts, Path podsDir, String nodeIp) {
    this.client = client;
    this.images = images;
    this.hosts = hosts;
    this.podsDir = podsDir;
    this.nodeIp = nodeIp;
  }

  Path podDir(String namespace, String name) {
    return podsDir.resolve(namespace + "_" + name);
  }

  private Path podDir(Pod pod) {
    return podDir(pod.getMetadata().getNamespace(), pod.getMetadata().getName());
  }

  static Container container(Pod pod) {
    return pod.getSpec().getContainers().getFirst();
  }

  /**
   * Empties the directory of a pod about to start. A pod of the same name (a StatefulSet's
   * replacement) may have used it: its log is kept as {@code <container>.previous.log}.
   */
  void resetPodDir(Pod pod) throws IOException {
    Path dir = podDir(pod);
    String container = container(pod).getName();
    Path log = dir.resolve(container + ".log");
    Path previous = dir.resolve(container + ".previous.log");
    if (Files.exists(log)) {
      Files.move(log, previous, StandardCopyOption.REPLACE_EXISTING);
    }
    if (Files.exists(dir)) {
      try (Stream<Path> files = Files.walk(dir)) {
        for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
          if (!p.equals(dir) && !p.equals(previous)) {
            Files.delete(p);
          }
        }
      }
    }
    Files.createDirectories(dir);
  }

  /** What running {@code container} (the pod's main container or one of its init containers) takes. */
  LaunchSpec prepare(Pod pod, String podIp, Container container) throws StartFailure {
    ImageTable.Entry image = images.lookup(container.getImage()).orElseThrow(() -> new StartFailure("ErrImagePull", false,
        "image " + container.getImage() + " is not runnable on this process node (known: " + String.join(", ", images.names()) + ")"));
    Path dir = podDir(pod);
    Localizer localizer = new Localizer(podIp, mounts(container, writeFiles(pod, podIp)));

    Map<String, String> env = new LinkedHashMap<>();
    env.put("PATH", System.getenv().getOrDefault("PATH", "/usr/local/bin:/usr/bin:/bin"));
    env.put("HOME", dir.toString());
    env.put("HOSTNAME", pod.getMetadata().getName());
    if (automountsToken(pod)) {
      env.put("KUBECONFIG", dir.resolve("kubeconfig").toString());
    }
    // Only the pod's own values name paths inside its volumes; the node's (KUBECONFIG, HOME) are host paths already.
    Map<String, String> podEnv = new LinkedHashMap<>();
    addEnvironment(pod, container, podIp, podEnv);
    podEnv.replaceAll((name, value) -> localizer.apply(value));
    env.putAll(podEnv);

    List<String> command = new ArrayList<>();
    if (container.getCommand() != null && !container.getCommand().isEmpty()) {
      command.addAll(localizer.apply(expand(container.getCommand(), env)));
    } else {
      command.add(image.command().getFirst());
      if (image.jvm()) {
        command.addAll(hosts.jvmOptions());
      }
      command.addAll(image.command().subList(1, image.command().size()));
    }
    if (container.getArgs() != null) {
      command.addAll(localizer.apply(expand(container.getArgs(), env)));
    }
    return new LaunchSpec(command, env, dir, dir.resolve(container.getName() + ".log"), localizer);
  }

  /**
   * Writes the pod's volumes (Secret, ConfigMap, downward API and token files; directories for the
   * others) and its ServiceAccount kubeconfig, again on every call: the kubelet keeps these
   * up to date while a pod runs. Returns each volume's host directory.
   */
  Map<String, Path> writeFiles(Pod pod, String podIp) throws StartFailure {
    Path dir = podDir(pod);
    try {
      if (automountsToken(pod)) {
        writeAtomically(dir.resolve("kubeconfig"), kubeconfig(pod).getBytes(StandardCharsets.UTF_8));
      }
      Map<String, Path> volumes = new HashMap<>();
      for (Volume volume : nonNull(pod.getSpec().getVolumes())) {
        volumes.put(volume.getName(), writeVolume(pod, podIp, volume, dir.resolve("volumes").resolve(volume.getName())));
      }
      return volumes;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static boolean automountsToken(Pod pod) {
    return !Boolean.FALSE.equals(pod.getSpec().getAutomountServiceAccountToken());
  }

  private Path writeVolume(Pod pod, String podIp, Volume volume, Path dir) throws StartFailure, IOException {
    String ns = pod.getMetadata().getNamespace();
    if (volume.getHostPath() != null) {
      return Path.of(volume.getHostPath().getPath());
    }
    if (volume.getPersistentVolumeClaim() != null) {
      return claimPath(ns, volume.getPersistentVolumeClaim().getClaimName());
    }
    Files.createDirectories(dir);
    if (volume.getEmptyDir() != null) {
      return dir;
    }
    // A secret, configMap or downwardAPI volume is written as a projected volume of that one source.
    List<VolumeProjection> sources = new ArrayList<>();
    if (volume.getSecret() != null) {
      sources.add(new VolumeProjectionBuilder().withNewSecret()
          .withName(volume.getSecret().getSecretName()).withItems(volume.getSecret().getItems())
          .withOptional(volume.getSecret().getOptional()).endSecret().build());
    } else if (volume.getConfigMap() != null) {
      sources.add(new VolumeProjectionBuilder().withNewConfigMap()
          .withName(volume.getConfigMap().getName()).withItems(volume.getConfigMap().getItems())
          .withOptional(volume.getConfigMap().getOptional()).endConfigMap().build());
    } else if (volume.getDownwardAPI() != null) {
      sources.add(new VolumeProjectionBuilder().withNewDownwardAPI()
          .withItems(volume.getDownwardAPI().getItems()).endDownwardAPI().build());
    } else if (volume.getProjected() != null) {
      sources.addAll(nonNull(volume.getProjected().getSources()));
    } else {
      throw new StartFailure("CreateContainerConfigError", false, "volume \"" + volume.getName()
          + "\": a process node mounts only emptyDir, secret, configMap, downwardAPI, projected, hostPath and persistentVolumeClaim volumes");
    }
    for (VolumeProjection source : sources) {
      writeProjection(pod, podIp, source, dir);
    }
    return dir;
  }

  private void writeProjection(Pod pod, String podIp, VolumeProjection source, Path dir) throws StartFailure, IOException {
    String ns = pod.getMetadata().getNamespace();
    if (source.getSecret() != null) {
      boolean optional = Boolean.TRUE.equals(source.getSecret().getOptional());
      writeKeys(dir, secretData(ns, source.getSecret().getName(), optional), source.getSecret().getItems(), optional,
          "secret \"" + source.getSecret().getName() + "\"");
    } else if (source.getConfigMap() != null) {
      boolean optional = Boolean.TRUE.equals(source.getConfigMap().getOptional());
      writeKeys(dir, configMapData(ns, source.getConfigMap().getName(), optional), source.getConfigMap().getItems(), optional,
          "configmap \"" + source.getConfigMap().getName() + "\"");
    } else if (source.getDownwardAPI() != null) {
      for (DownwardAPIVolumeFile file : nonNull(source.getDownwardAPI().getItems())) {
        if (file.getFieldRef() == null) {
          throw new StartFailure("CreateContainerConfigError", false,
              "downward API file " + file.getPath() + ": a process node supports fieldRef only");
        }
        writeAtomically(dir.resolve(file.getPath()),
            fieldValue(pod, file.getFieldRef().getFieldPath(), podIp).getBytes(StandardCharsets.UTF_8));
      }
    } else if (source.getServiceAccountToken() != null) {
      ServiceAccountTokenProjection token = source.getServiceAccountToken();
      writeAtomically(dir.resolve(token.getPath()),
          token(pod, token.getAudience(), token.getExpirationSeconds()).getBytes(StandardCharsets.UTF_8));
    }
  }

  /** Writes a Secret's or ConfigMap's keys, all of them or the items chosen, as files. */
  private static void writeKeys(Path dir, Map<String, byte[]> data, List<KeyToPath> items, boolean optional, String what)
      throws StartFailure, IOException {
    if (items == null || items.isEmpty()) {
      for (var e : data.entrySet()) {
        writeAtomically(dir.resolve(e.getKey()), e.getValue());
      }
      return;
    }
    for (KeyToPath item : items) {
      byte[] value = data.get(item.getKey());
      if (value == null && !optional) {
        throw new StartFailure("ContainerCreating", true, what + " has no key " + item.getKey());
      }
      if (value != null) {
        writeAtomically(dir.resolve(item.getPath()), value);
      }
    }
  }

  private Path claimPath(String ns, String claim) throws StartFailure {
    PersistentVolumeClaim pvc = client.persistentVolumeClaims().inNamespace(ns).withName(claim).get();
    if (pvc == null) {
      throw new StartFailure("ContainerCreating", true, "persistentvolumeclaim \"" + claim + "\" not found");
    }
    String phase = pvc.getStatus() == null ? null : pvc.getStatus().getPhase();
    if (!"Bound".equals(phase)) {
      throw new StartFailure("ContainerCreating", true,
          "persistentvolumeclaim \"" + claim + "\" is not bound (phase " + phase + "): waiting until it is");
    }
    String pvName = pvc.getSpec().getVolumeName();
    PersistentVolume pv = client.persistentVolumes().withName(pvName).get();
    if (pv == null) {
      throw new StartFailure("ContainerCreating", true, "persistentvolume \"" + pvName + "\" of claim \"" + claim + "\" not found");
    }
    if (pv.getSpec().getHostPath() != null) {
      return Path.of(pv.getSpec().getHostPath().getPath());
    }
    if (pv.getSpec().getLocal() != null) {
      return Path.of(pv.getSpec().getLocal().getPath());
    }
    throw new StartFailure("ContainerCreating", false, "persistentvolume \"" + pvName + "\" of claim \"" + claim
        + "\" is neither hostPath nor local: a process node mounts only those");
  }

  /** Each mount path (no trailing slash) with its host directory, longest mount path first. */
  private static List<Map.Entry<String, Path>> mounts(Container container, Map<String, Path> volumes) throws StartFailure {
    List<Map.Entry<String, Path>> mounts = new ArrayList<>();
    for (VolumeMount mount : nonNull(container.getVolumeMounts())) {
      Path host = volumes.get(mount.getName());
      if (host == null) {
        throw new StartFailure("CreateContainerConfigError", false, "volumeMount " + mount.getMountPath()
            + " names volume \"" + mount.getName() + "\", which the pod does not have");
      }
      if (mount.getSubPath() != null && !mount.getSubPath().isEmpty()) {
        host = host.resolve(mount.getSubPath());
      }
      mounts.add(Map.entry(mount.getMountPath().replaceFirst("(.)/+$", "$1"), host));
    }
    mounts.sort(Comparator.comparingInt((Map.Entry<String, Path> m) -> m.getKey().length()).reversed());
    return mounts;
  }

  /** envFrom, then env in order, each value's $(VAR) expanded against the variables before it. */
  private void addEnvironment(Pod pod, Container container, String podIp, Map<String, String> env) throws StartFailure {
    String ns = pod.getMetadata().getNamespace();
    for (EnvFromSource from : nonNull(container.getEnvFrom())) {
      String prefix = from.getPrefix() == null ? "" : from.getPrefix();
      Map<String, byte[]> data = from.getSecretRef() != null
          ? secretData(ns, from.getSecretRef().getName(), Boolean.TRUE.equals(from.getSecretRef().getOptional()))
          : configMapData(ns, from.getConfigMapRef().getName(), Boolean.TRUE.equals(from.getConfigMapRef().getOptional()));
      data.forEach((key, value) -> env.put(prefix + key, new String(value, StandardCharsets.UTF_8)));
    }
    for (EnvVar var : nonNull(container.getEnv())) {
      EnvVarSource from = var.getValueFrom();
      if (from == null) {
        env.put(var.getName(), expand(var.getValue() == null ? "" : var.getValue(), env));
      } else if (from.getFieldRef() != null) {
        env.put(var.getName(), fieldValue(pod, from.getFieldRef().getFieldPath(), podIp));
      } else if (from.getSecretKeyRef() != null) {
        var ref = from.getSecretKeyRef();
        putKey(env, var.getName(), secretData(ns, ref.getName(), Boolean.TRUE.equals(ref.getOptional())), ref.getKey(),
            Boolean.TRUE.equals(ref.getOptional()), "secret " + ns + "/" + ref.getName());
      } else if (from.getConfigMapKeyRef() != null) {
        var ref = from.getConfigMapKeyRef();
        putKey(env, var.getName(), configMapData(ns, ref.getName(), Boolean.TRUE.equals(ref.getOptional())), ref.getKey(),
            Boolean.TRUE.equals(ref.getOptional()), "configmap " + ns + "/" + ref.getName());
      } else {
        throw new StartFailure("CreateContainerConfigError", false, "env " + var.getName()
            + ": a process node supports value, fieldRef, secretKeyRef and configMapKeyRef only");
      }
    }
  }

  private static void putKey(Map<String, String> env, String name, Map<String, byte[]> data, String key, boolean optional,
      String what) throws StartFailure {
    byte[] value = data.get(key);
    if (value != null) {
      env.put(name, new String(value, StandardCharsets.UTF_8));
    } else if (!optional) {
      throw new StartFailure("CreateContainerConfigError", true, "couldn't find key " + key + " in " + what);
    }
  }

  private String fieldValue(Pod pod, String path, String podIp) throws StartFailure {
    var meta = pod.getMetadata();
    Matcher keyed = KEYED_FIELD.matcher(path);
    if (keyed.matches()) {
      Map<String, String> map = keyed.group(1).equals("labels") ? meta.getLabels() : meta.getAnnotations();
      return map == null ? "" : map.getOrDefault(keyed.group(2), "");
    }
    return switch (path) {
      case "metadata.name" -> meta.getName();
      case "metadata.namespace" -> meta.getNamespace();
      case "metadata.uid" -> meta.getUid();
      case "metadata.labels" -> keyValueLines(meta.getLabels());
      case "metadata.annotations" -> keyValueLines(meta.getAnnotations());
      case "spec.nodeName" -> pod.getSpec().getNodeName();
      case "spec.serviceAccountName" -> serviceAccount(pod);
      case "status.podIP", "status.podIPs" -> podIp;
      case "status.hostIP", "status.hostIPs" -> nodeIp;
      default -> throw new StartFailure("CreateContainerConfigError", false, "fieldRef " + path + " is not supported on a process node");
    };
  }

  private static String keyValueLines(Map<String, String> map) {
    StringBuilder out = new StringBuilder();
    new TreeMap<>(map == null ? Map.<String, String>of() : map)
        .forEach((k, v) -> out.append(k).append("=\"").append(v.replace("\"", "\\\"")).append("\"\n"));
    return out.toString();
  }

  private Map<String, byte[]> secretData(String ns, String name, boolean optional) throws StartFailure {
    var secret = client.secrets().inNamespace(ns).withName(name).get();
    if (secret == null) {
      return missing("secret", name, optional);
    }
    Map<String, byte[]> data = new TreeMap<>();
    if (secret.getData() != null) {
      secret.getData().forEach((k, v) -> data.put(k, Base64.getDecoder().decode(v)));
    }
    return data;
  }

  private Map<String, byte[]> configMapData(String ns, String name, boolean optional) throws StartFailure {
    var configMap = client.configMaps().inNamespace(ns).withName(name).get();
    if (configMap == null) {
      return missing("configmap", name, optional);
    }
    Map<String, byte[]> data = new TreeMap<>();
    if (configMap.getData() != null) {
      configMap.getData().forEach((k, v) -> data.put(k, v.getBytes(StandardCharsets.UTF_8)));
    }
    if (configMap.getBinaryData() != null) {
      configMap.getBinaryData().forEach((k, v) -> data.put(k, Base64.getDecoder().decode(v)));
    }
    return data;
  }

  private static Map<String, byte[]> missing(String kind, String name, boolean optional) throws StartFailure {
    if (optional) {
      return Map.of();
    }
    throw new StartFailure("CreateContainerConfigError", true, kind + " \"" + name + "\" not found");
  }

  private static String serviceAccount(Pod pod) {
    String sa = pod.getSpec().getServiceAccountName();
    return sa == null || sa.isEmpty() ? "default" : sa;
  }

  /** A kubeconfig for the pod's ServiceAccount on the API server this node talks to. */
  private String kubeconfig(Pod pod) throws StartFailure, IOException {
    Config config = client.getConfiguration();
    String ca = config.getCaCertData();
    if (ca == null && config.getCaCertFile() != null) {
      ca = Base64.getEncoder().encodeToString(Files.readAllBytes(Path.of(config.getCaCertFile())));
    }
    var kubeconfig = new ConfigBuilder()
        .addNewCluster().withName("cluster").withNewCluster()
        .withServer(config.getMasterUrl())
        .withCertificateAuthorityData(ca)
        .withInsecureSkipTlsVerify(Boolean.TRUE.equals(config.getTrustCerts()) ? true : null)
        .endCluster().endCluster()
        .addNewUser().withName(serviceAccount(pod)).withNewUser().withToken(token(pod, null, TOKEN_SECONDS)).endUser().endUser()
        .addNewContext().withName("pod").withNewContext().withCluster("cluster").withUser(serviceAccount(pod))
        .withNamespace(pod.getMetadata().getNamespace()).endContext().endContext()
        .withCurrentContext("pod")
        .build();
    return client.getKubernetesSerialization().asYaml(kubeconfig);
  }

  /** A token of the pod's ServiceAccount bound to the pod, as the kubelet requests one. */
  private String token(Pod pod, String audience, Long seconds) throws StartFailure {
    var request = new TokenRequestBuilder().withNewSpec()
        .withAudiences(audience == null || audience.isEmpty() ? List.of() : List.of(audience))
        .withExpirationSeconds(seconds == null ? TOKEN_SECONDS : seconds)
        .withNewBoundObjectRef().withApiVersion("v1").withKind("Pod")
        .withName(pod.getMetadata().getName()).withUid(pod.getMetadata().getUid()).endBoundObjectRef()
        .endSpec().build();
    try {
      return client.serviceAccounts().inNamespace(pod.getMetadata().getNamespace()).withName(serviceAccount(pod))
          .tokenRequest(request).getStatus().getToken();
    } catch (KubernetesClientException e) {
      String why = e.getStatus() != null && e.getStatus().getMessage() != null ? e.getStatus().getMessage() : e.getMessage();
      throw new StartFailure("ContainerCreating", true,
          "no token for serviceaccount \"" + serviceAccount(pod) + "\": " + why);
    }
  }

  /** Kubernetes' $(VAR) expansion: $$ is a literal $, and a reference to an unknown variable stays as it is. */
  static String expand(String input, Map<String, String> vars) {
    StringBuilder out = new StringBuilder();
    int i = 0;
    while (i < input.length()) {
      char c = input.charAt(i);
      if (c != '$' || i + 1 == input.length()) {
        out.append(c);
        i++;
        continue;
      }
      char next = input.charAt(i + 1);
      int close = next == '(' ? input.indexOf(')', i + 2) : -1;
      if (next == '$') {
        out.append('$');
        i += 2;
      } else if (close >= 0) {
        String name = input.substring(i + 2, close);
        out.append(vars.containsKey(name) ? vars.get(name) : "$(" + name + ")");
        i = close + 1;
      } else {
        out.append('$').append(next);
        i += 2;
      }
    }
    return out.toString();
  }

  private static List<String> expand(List<String> words, Map<String, String> vars) {
    return words.stream().map(w -> expand(w, vars)).toList();
  }

  private static void writeAtomically(Path file, byte[] content) throws IOException {
    Files.createDirectories(file.getParent());
    Path tmp = Files.createTempFile(file.getParent(), ".write", ".tmp");
    Files.write(tmp, content);
    Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
  }

  private static <T> List<T> nonNull(List<T> list) {
    return list == null ? List.of() : list;
  }
}

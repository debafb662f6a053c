package dev.moe.localcluster.node;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The cluster DNS names of the node's pods, as a JDK hosts file: a StatefulSet pod under a headless
 * Service ({@code spec.hostname} + {@code spec.subdomain}) resolves as
 * {@code <hostname>.<subdomain>.<ns>.svc[.cluster.local]} in every JVM pod, which gets
 * {@link #jvmOptions()}. The JDK reads the file on every lookup it does not answer from its cache,
 * and the security properties written beside it turn that cache off: workers start together and
 * look up peers that are still being added, and the JDK's default 10 s negative cache (a security
 * property in java.security, which the {@code sun.net.inetaddr.*} system properties do not
 * override) would hold each early miss.
 */
final class HostsFile {

  private final Path file;
  private final Path securityProperties;
  private final String header;
  private final Map<String, String> lines = new TreeMap<>();

  HostsFile(Path dir) {
    file = dir.resolve("hosts");
    securityProperties = dir.resolve("java.security");
    // With a hosts file the JDK asks nothing else, so it must also know localhost and this
    // machine's own name (InetAddress.getLocalHost()).
    header = "127.0.0.1 localhost " + machineName() + "\n::1 localhost ip6-localhost\n";
    try {
      Files.createDirectories(dir);
      Files.writeString(securityProperties, "networkaddress.cache.ttl=0\nnetworkaddress.cache.negative.ttl=0\n");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    write();
  }

  /** The options that make a JVM resolve through this file, uncached. */
  List<String> jvmOptions() {
    return List.of("-Djdk.net.hosts.file=" + file, "-Djava.security.properties=" + securityProperties);
  }

  Path path() {
    return file;
  }

  /** Publishes a pod's names (none if it has no hostname and subdomain); {@code key} identifies the pod. */
  synchronized void put(String key, String ip, String namespace, String hostname, String subdomain) {
    if (hostname == null || hostname.isEmpty() || subdomain == null || subdomain.isEmpty()) {
      return;
    }
    putName(key, ip, hostname + "." + subdomain + "." + namespace + ".svc");
  }

  /** Publishes {@code name} and {@code name.cluster.local} (a name under {@code .svc}) for {@code ip}. */
  synchronized void putName(String key, String ip, String name) {
    lines.put(key, ip + " " + name + " " + name + ".cluster.local");
    write();
  }

  synchronized void remove(String key) {
    if (lines.remove(key) != null) {
      write();
    }
  }

  /** Replaces the file in one rename, so a lookup never reads half of it. */
  private void write() {
    StringBuilder text = new StringBuilder(header);
    lines.values().forEach(line -> text.append(line).append('\n'));
    try {
      Path tmp = Files.createTempFile(file.getParent(), "hosts", ".tmp");
      Files.writeString(tmp, text);
      Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The name gethostname(2) gives, which a JVM's InetAddress.getLocalHost() then resolves. */
  private static String machineName() {
    try {
      return Files.readString(Path.of("/proc/sys/kernel/hostname")).strip();
    } catch (IOException e) {
      return "localhost";
    }
  }
}

package dev.moe.localcluster.node;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.HTTPHeader;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.Probe;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** One run of a container probe, as the kubelet does it, against the pod IP. */
final class Probes {

  record Result(boolean ok, String message) {
  }

  private static final HttpClient HTTP = HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NORMAL).build();

  private Probes() {
  }

  static int period(Probe probe) {
    return positiveOr(probe.getPeriodSeconds(), 10);
  }

  static int failureThreshold(Probe probe) {
    return positiveOr(probe.getFailureThreshold(), 3);
  }

  static int successThreshold(Probe probe) {
    return positiveOr(probe.getSuccessThreshold(), 1);
  }

  static int initialDelay(Probe probe) {
    return probe.getInitialDelaySeconds() == null ? 0 : probe.getInitialDelaySeconds();
  }

  private static int positiveOr(Integer value, int otherwise) {
    return value == null || value <= 0 ? otherwise : value;
  }

  static Result run(Probe probe, Container container, Launcher.LaunchSpec spec) {
    int timeoutSeconds = positiveOr(probe.getTimeoutSeconds(), 1);
    String ip = spec.localizer().podIp();
    try {
      if (probe.getHttpGet() != null) {
        var get = probe.getHttpGet();
        if ("HTTPS".equalsIgnoreCase(get.getScheme())) {
          return new Result(false, "HTTPS probes are not supported on a process node");
        }
        String host = get.getHost() == null || get.getHost().isEmpty() ? ip : get.getHost();
        String path = get.getPath() == null ? "/" : get.getPath();
        var request = HttpRequest.newBuilder(URI.create("http://" + host + ":" + port(get.getPort(), container) + path))
            .timeout(Duration.ofSeconds(timeoutSeconds)).GET();
        for (HTTPHeader header : get.getHttpHeaders() == null ? List.<HTTPHeader>of() : get.getHttpHeaders()) {
          request.header(header.getName(), header.getValue());
        }
        int status = HTTP.send(request.build(), HttpResponse.BodyHandlers.discarding()).statusCode();
        return new Result(status >= 200 && status < 400, "HTTP probe " + path + " answered " + status);
      }
      if (probe.getTcpSocket() != null) {
        String host = probe.getTcpSocket().getHost() == null ? ip : probe.getTcpSocket().getHost();
        try (Socket socket = new Socket()) {
          socket.connect(new InetSocketAddress(host, port(probe.getTcpSocket().getPort(), container)), timeoutSeconds * 1000);
        }
        return new Result(true, "connected");
      }
      if (probe.getExec() != null) {
        Process process = spec.processBuilder(spec.localizer().apply(probe.getExec().getCommand()))
            .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        if (!process.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
          process.destroyForcibly();
          return new Result(false, "exec probe timed out after " + timeoutSeconds + "s");
        }
        return new Result(process.exitValue() == 0, "exec probe exited " + process.exitValue());
      }
      return new Result(false, "a process node runs httpGet, tcpSocket and exec probes only");
    } catch (IOException | IllegalArgumentException e) {
      return new Result(false, e.toString());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return new Result(false, "interrupted");
    }
  }

  /** A port number, or the name of one of the container's ports. */
  private static int port(IntOrString port, Container container) {
    if (port.getIntVal() != null) {
      return port.getIntVal();
    }
    return (container.getPorts() == null ? List.<ContainerPort>of() : container.getPorts()).stream()
        .filter(p -> port.getStrVal().equals(p.getName())).findFirst().map(ContainerPort::getContainerPort)
        .orElseThrow(() -> new IllegalArgumentException("the container has no port named " + port.getStrVal()));
  }
}
